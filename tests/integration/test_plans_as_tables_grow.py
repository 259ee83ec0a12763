"""The runtime's hot statements read rows in proportion to their batch, not to their table, on
a connection that has been running since its tables were empty.

psycopg prepares a statement on its fifth run and PostgreSQL may then keep a generic plan made
for the table it saw then: for a join of a tiny `consumer_streams` with the batch's keys, a scan
of every row of the consumer, which it keeps using once the table holds 100,000 streams. These
tests fill the tables after the connection has run its statements on them empty, then count the
rows the next batch reads (`pg_stat_xact_user_tables`: the session's counters not yet sent to
the statistics, read before and after).
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common.delivery import Delivery
from credflow_common.inbox import claim
from credflow_common.relay import OutboxRelay
from tests.infrastructure import Infrastructure
from tests.integration.test_inbox_claim import event

pytestmark = pytest.mark.integration
Pool = AsyncConnectionPool[AsyncConnection[Any]]
GROWN = 50_000
CONSUMER = "svc.views"


def delivery(partition: int = 0) -> Delivery:
    return event(f"credential-{uuid4()}", 1, partition)


async def rows_read(conn: AsyncConnection[Any], table: str) -> int:
    cursor = await conn.execute(
        "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)"
        " FROM pg_stat_xact_user_tables WHERE relname = %s",
        (table,),
    )
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def test_the_stream_guard_reads_the_batchs_streams_not_the_whole_table(pool: Pool) -> None:
    async with pool.connection() as conn:
        for _ in range(15):  # prepared by psycopg, planned while the table is empty
            async with conn.transaction():
                await claim(conn, CONSUMER, [delivery()])
        await conn.execute(
            "INSERT INTO consumer_streams (consumer, source, stream_id, topic, partition, version)"
            " SELECT %s, '/credflow/submission', 'credential-' || gen_random_uuid(),"
            " 'credflow.credentials', g %% 6, 1 FROM generate_series(1, %s) AS g",
            (CONSUMER, GROWN),
        )
        await conn.commit()
        async with conn.transaction():
            batch = [delivery(partition) for partition in range(6)]
            before = await rows_read(conn, "consumer_streams")
            assert await claim(conn, CONSUMER, batch) == batch
            read = await rows_read(conn, "consumer_streams") - before
    assert read < 100, f"a batch of 6 read {read:,} of {GROWN:,} stream positions"


async def test_the_relay_reads_its_batch_not_the_whole_backlog(
    pool: Pool, database_url: str, infra: Infrastructure, credentials_topic: str
) -> None:
    relay = OutboxRelay(database_url, "svc", infra.kafka_bootstrap_servers, batch_size=100)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await producer.start()
    try:
        async with pool.connection() as conn:
            for _ in range(15):  # prepared by psycopg, planned while the outbox is empty
                assert await relay.publish_batch(conn, producer) == 0
            await conn.execute(
                "INSERT INTO outbox (topic, key, value, headers)"
                " SELECT %s, convert_to(g::text, 'UTF8'), convert_to(repeat('x', 1000), 'UTF8'),"
                " '[]' FROM generate_series(1, %s) AS g",
                (credentials_topic, GROWN),
            )
            await conn.commit()
            async with conn.transaction(force_rollback=True):
                before = await rows_read(conn, "outbox")
                assert await relay.publish_batch(conn, producer) == 100
                read = await rows_read(conn, "outbox") - before
    finally:
        await producer.stop()
    assert read < 1000, f"publishing 100 rows read {read:,} of the {GROWN:,} waiting"
