"""Rebuild the views from offset 0 into a fresh schema while the live one keeps serving, then
swap the two atomically.

1. `projection_next` is dropped, created and migrated; the views consumer replays every public
   topic into it from the beginning to the end offsets seen at the start, outside the consumer
   group (the live service keeps its partitions and keeps applying).
2. Swap, in one transaction: take the swap lock exclusively (each live batch holds it shared,
   so no live batch is in flight and the next one waits), catch the new schema up to at least
   the live consumer's positions, then rename `projection` → `projection_retired` and
   `projection_next` → `projection`. Readers' connections resolve `projection` by name, so
   their next query reads the rebuilt tables; the waiting live batch applies to them too, and
   the inbox drops the events the rebuild already applied.
3. The retired schema is dropped (unless kept for a look).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from psycopg import sql

from credflow_common.consumer import ConsumerRunner, ConsumerSettings
from credflow_common.db import drop_schema, schema_pool
from credflow_common.kafka import topic_partitions
from credflow_common.migrations import migrate
from credflow_common.settings import InfraSettings, RuntimeSettings
from credflow_contracts.topics import PUBLIC_TOPICS
from credflow_projection.app import MIGRATIONS
from credflow_projection.projector import CONSUMER, SWAP_LOCK, views_consumer

LIVE_SCHEMA = "projection"
NEXT_SCHEMA = "projection_next"
RETIRED_SCHEMA = "projection_retired"


@dataclass(frozen=True)
class RebuildReport:
    events_total: int  # records in the log when the rebuild started
    events_applied: int  # records applied, including those that arrived meanwhile


async def log_extent(
    bootstrap_servers: str, topics: list[str]
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """Beginning and end offsets of every partition of `topics`."""
    partitions = [
        TopicPartition(topic, partition)
        for topic in topics
        for partition in await topic_partitions(bootstrap_servers, topic)
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.beginning_offsets(partitions), await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


async def rebuild(
    infra: InfraSettings,
    runtime: RuntimeSettings,
    on_start: Callable[[int], None] = lambda total: None,
    on_applied: Callable[[int], None] = lambda count: None,
    keep_retired: bool = False,
) -> RebuildReport:
    topics = [runtime.topic_prefix + topic for topic in PUBLIC_TOPICS]
    beginnings, ends = await log_extent(infra.kafka_bootstrap_servers, topics)
    total = sum(ends[tp] - beginnings[tp] for tp in ends)
    on_start(total)
    applied = 0

    def count(n: int) -> None:
        nonlocal applied
        applied += n
        on_applied(n)

    await drop_schema(infra.database_url, NEXT_SCHEMA)
    await migrate(infra.database_url, NEXT_SCHEMA, [MIGRATIONS])
    pool = schema_pool(infra.database_url, NEXT_SCHEMA, max_size=2)
    await pool.open(wait=True)
    try:
        spec = views_consumer(runtime.topic_prefix)
        # The rebuild's batches must not wait for the swap lock its own swap holds.
        runner = ConsumerRunner(
            type(spec)(spec.name, spec.topics, spec.handler),
            pool,
            infra.kafka_bootstrap_servers,
            settings=ConsumerSettings(max_batch=5000),
        )
        await runner.catch_up(ends, count)
        await _swap(infra.database_url, runner, ends, count)
    finally:
        await pool.close()
    if not keep_retired:
        await drop_schema(infra.database_url, RETIRED_SCHEMA)
    return RebuildReport(total, applied)


async def _swap(
    database_url: str,
    runner: ConsumerRunner,
    ends: dict[TopicPartition, int],
    count: Callable[[int], None],
) -> None:
    await drop_schema(database_url, RETIRED_SCHEMA)
    conn = await psycopg.AsyncConnection.connect(database_url)
    async with conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SWAP_LOCK,))
        live_exists = await (
            await conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (LIVE_SCHEMA,))
        ).fetchone()
        if live_exists:
            cursor = await conn.execute(
                sql.SQL(
                    "SELECT topic, partition, next_offset FROM {}.consumer_positions"
                    " WHERE consumer = %s"
                ).format(sql.Identifier(LIVE_SCHEMA)),
                (CONSUMER,),
            )
            live = {TopicPartition(t, p): o for t, p, o in await cursor.fetchall()}
            targets = {tp: max(end, live.get(tp, 0)) for tp, end in ends.items()}
            await runner.catch_up(targets, count)  # live batches wait meanwhile
            await conn.execute(
                sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                    sql.Identifier(LIVE_SCHEMA), sql.Identifier(RETIRED_SCHEMA)
                )
            )
        await conn.execute(
            sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                sql.Identifier(NEXT_SCHEMA), sql.Identifier(LIVE_SCHEMA)
            )
        )
