"""The reminder service as its own process (`credflow serve reminder`, clock frozen at a day
when 60 reminders are due), killed by a failpoint in the middle of its mail batch and started
again: each reminder arrives exactly once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import date, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from credflow_common.settings import RuntimeSettings
from credflow_contracts.topics import ALL_TOPICS
from tests.e2e.system import free_port, service_env
from tests.infrastructure import Infrastructure
from tests.integration.review.conftest import running_services
from tests.integration.runtime_support import create_topics, delete_topics_with_prefix
from tests.polling import eventually

pytestmark = pytest.mark.e2e
EXPIRES = date(2026, 9, 30)
CREDENTIALS = 60


def reminder_process(env: dict[str, str], failpoints: str = "") -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "credflow", "serve", "reminder"],
        env={**env, "CREDFLOW_FAILPOINTS": failpoints},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_a_reminder_process_killed_mid_batch_sends_each_reminder_once(
    infra: Infrastructure, database_url: str, unique: str
) -> None:
    prefix = f"r{unique}."
    await create_topics(infra.kafka_bootstrap_servers, [prefix + t for t in ALL_TOPICS], 3)
    env = service_env(
        infra, database_url, prefix, {"reminder": free_port()},
        CREDFLOW_LOG_LEVEL="WARNING", CREDFLOW_REMINDER_INTERVAL_S="0.5",
        CREDFLOW_REMINDER_FROZEN_NOW=f"{EXPIRES - timedelta(days=7)}T09:00:00Z",
    )  # fmt: skip
    runtime = RuntimeSettings(topic_prefix=prefix)
    process = reminder_process(env, failpoints="mail.after_commit@25")
    try:
        async with running_services(infra, database_url, runtime) as (services, _, _):
            org = await services.org("Crash")
            workers = [
                await services.directory.create_user(org, f"w{n}@{org.id.hex[-12:]}.test")
                for n in range(CREDENTIALS)
            ]
            await services.replicated(workers[-1])
            kind = await services.post(
                org, "/credential-types", name="Forklift", validation_required=False
            )
            for worker in workers:
                response = await services.submission.post(
                    f"/organisations/{org.id}/credentials",
                    json={
                        "credential_type_id": kind["credential_type_id"],
                        "holder_id": worker["user_id"],
                        "issued_on": "2024-01-01",
                        "expires_on": str(EXPIRES),
                    },
                    headers=org.admin,
                )
                assert response.status_code == 201, response.text
            assert await asyncio.to_thread(process.wait, 120) != 0, "the failpoint killed it"
            process = reminder_process(env)

            async def all_sent() -> bool:
                with psycopg.connect(database_url) as conn:
                    row = conn.execute(
                        "SELECT count(*) FILTER (WHERE sent_at IS NOT NULL), count(*)"
                        " FROM reminder.mail_outbox WHERE organisation_id = %s",
                        (org.id,),
                    ).fetchone()
                return row == (CREDENTIALS, CREDENTIALS)

            await eventually(all_sent, timeout_s=120)
            received: dict[str, Any] = {}
            async with httpx.AsyncClient(base_url=infra.mail_api_url) as mail:
                for worker in workers:
                    found = await mail.get(
                        "/api/v1/search", params={"query": f"to:{worker['email']}"}
                    )
                    received[worker["email"]] = found.json()["total"]
            assert set(received.values()) == {1}, received
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)
        await delete_topics_with_prefix(infra.kafka_bootstrap_servers, prefix)
