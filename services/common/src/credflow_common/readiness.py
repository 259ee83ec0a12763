"""Readiness checks for the real parts a service depends on."""

from __future__ import annotations

import psycopg
from aiokafka.admin import AIOKafkaAdminClient

from credflow_common.http import ReadinessCheck


def postgres_check(database_url: str) -> ReadinessCheck:
    async def check() -> None:
        async with await psycopg.AsyncConnection.connect(database_url, connect_timeout=2) as conn:
            await conn.execute("SELECT 1")

    return check


def kafka_check(bootstrap_servers: str) -> ReadinessCheck:
    async def check() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=2000)
        await admin.start()
        try:
            await admin.list_topics()
        finally:
            await admin.close()

    return check
