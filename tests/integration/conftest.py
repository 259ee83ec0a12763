"""Fixtures for tests of the event runtime against real PostgreSQL and Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common.db import schema_pool
from credflow_common.migrations import migrate
from credflow_contracts.topics import CREDENTIALS
from tests.infrastructure import Infrastructure
from tests.integration.runtime_support import (
    create_model,
    create_topics,
    delete_topics_with_prefix,
)

SCHEMA = "svc"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool[AsyncConnection[Any]]]:
    """A migrated service schema in a fresh database, with the test read model."""
    await migrate(database_url, SCHEMA)
    pool = schema_pool(database_url, SCHEMA, max_size=20)
    await pool.open()
    async with pool.connection() as conn:
        await create_model(conn)
    yield pool
    await pool.close()


@pytest.fixture
async def topic_prefix(infra: Infrastructure, unique: str) -> AsyncIterator[str]:
    """A topic namespace for one test; its topics are deleted afterwards, so the broker does
    not collect thousands of partitions over many runs (they slow its start-up)."""
    prefix = f"t{unique}."
    yield prefix
    await delete_topics_with_prefix(infra.kafka_bootstrap_servers, prefix)


@pytest.fixture
async def credentials_topic(infra: Infrastructure, topic_prefix: str) -> str:
    """A fresh `credflow.credentials` topic (and its DLQ) under this test's prefix."""
    topic = topic_prefix + CREDENTIALS
    await create_topics(infra.kafka_bootstrap_servers, [topic])
    return topic
