"""Rebuild the views from offset 0 into a fresh schema while the live one keeps serving, then
swap the two atomically.

1. `projection_next` is dropped, created and migrated; the views consumer replays every public
   topic into it from the beginning to the end offsets seen at the start, outside the consumer
   group (the live service keeps its partitions and keeps applying). The partitions are shared
   among worker processes (one per core, at most 4): a credential's events all live in one
   partition, so the workers write disjoint rows. The lookup (non-unique) indexes are dropped
   for the load and built once over the loaded rows.
2. Swap, in one transaction: take the swap lock exclusively (each live batch holds it shared,
   so no live batch is in flight and the next one waits), catch the new schema up to at least
   the live consumer's positions, then rename `projection` → `projection_retired` and
   `projection_next` → `projection`. Readers' connections resolve `projection` by name, so
   their next query reads the rebuilt tables; the waiting live batch applies to them too, and
   the inbox drops the events the rebuild already applied.
3. The retired schema is dropped (unless kept for a look).
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from credflow_common.consumer import ConsumerRunner, ConsumerSettings, ConsumerSpec
from credflow_common.db import drop_schema, schema_pool
from credflow_common.kafka import topic_partitions
from credflow_common.logging import configure_logging
from credflow_common.migrations import migrate
from credflow_common.sealing import remote_sealing
from credflow_common.settings import InfraSettings, RuntimeSettings
from credflow_contracts.topics import PUBLIC_TOPICS
from credflow_projection import derived, erasure
from credflow_projection.app import MIGRATIONS
from credflow_projection.bulk import replay_into_empty_tables
from credflow_projection.projector import CONSUMER, SWAP_LOCK, views_consumer

REPLAY_WORKERS = min(os.cpu_count() or 1, 4)
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
    *,
    on_start: Callable[[int], None] = lambda total: None,
    on_applied: Callable[[int], None] = lambda count: None,
    keep_retired: bool = False,
    workers: int = REPLAY_WORKERS,
) -> RebuildReport:
    topics = [runtime.topic_prefix + topic for topic in PUBLIC_TOPICS]
    beginnings, ends = await log_extent(infra.kafka_bootstrap_servers, topics)
    total = sum(ends[tp] - beginnings[tp] for tp in ends)
    on_start(total)
    await drop_schema(infra.database_url, NEXT_SCHEMA)
    await migrate(infra.database_url, NEXT_SCHEMA, [MIGRATIONS])
    pool = schema_pool(infra.database_url, NEXT_SCHEMA, max_size=2)
    await pool.open(wait=True)
    try:
        runner = _runner(pool, infra.kafka_bootstrap_servers, runtime.topic_prefix)
        progress = _Progress(on_applied)
        index_definitions = await _drop_lookup_indexes(infra.database_url)
        await _replay_in_parallel(infra, _split(beginnings, ends, workers), progress)
        async with pool.connection() as conn:
            await erasure.forget_everyone_erased(conn)  # the replay's workers saw parts
            await derived.label_everything(conn)
        await _create_indexes(infra.database_url, index_definitions)
        async with pool.connection() as conn:
            await derived.judge_everyone(conn)
        await _swap(infra.database_url, runner, ends, progress.count)
    finally:
        await pool.close()
    if not keep_retired:
        await drop_schema(infra.database_url, RETIRED_SCHEMA)
    return RebuildReport(total, progress.applied)


def _runner(pool: AsyncConnectionPool[Any], bootstrap_servers: str, prefix: str) -> ConsumerRunner:
    spec = views_consumer(prefix)
    # A rebuild's batches must not wait for the swap lock that its own swap holds.
    return ConsumerRunner(
        ConsumerSpec(spec.name, spec.topics, spec.handler),
        pool,
        bootstrap_servers,
        settings=ConsumerSettings(max_batch=5000),
        sealing=remote_sealing(RuntimeSettings().environment),
    )


@dataclass
class _Progress:
    on_applied: Callable[[int], None]
    applied: int = 0

    def count(self, n: int) -> None:
        self.applied += n
        self.on_applied(n)


def _split(
    beginnings: dict[TopicPartition, int], ends: dict[TopicPartition, int], workers: int
) -> list[dict[TopicPartition, int]]:
    """Partitions shared among `workers`, the largest first to the least loaded."""
    shares: list[dict[TopicPartition, int]] = [{} for _ in range(max(workers, 1))]
    loads = [0] * len(shares)
    for tp in sorted(ends, key=lambda tp: (beginnings[tp] - ends[tp], tp)):
        least = loads.index(min(loads))
        shares[least][tp] = ends[tp]
        loads[least] += ends[tp] - beginnings[tp]
    return [share for share in shares if share]


async def _replay_in_parallel(
    infra: InfraSettings, shares: list[dict[TopicPartition, int]], progress: _Progress
) -> None:
    """One process per share of the partitions: each credential's events live in one
    partition, so the shares touch disjoint rows and run side by side."""
    context = multiprocessing.get_context("spawn")
    counters = [context.Value("q", 0) for _ in shares]
    processes = [
        context.Process(
            target=_replay_worker,
            args=(
                infra.database_url,
                infra.kafka_bootstrap_servers,
                [(tp.topic, tp.partition, end) for tp, end in share.items()],
                counters[index],
            ),
            name=f"credflow-rebuild-{index}",
        )
        for index, share in enumerate(shares)
    ]
    for process in processes:
        process.start()
    try:
        while any(process.is_alive() for process in processes):
            await asyncio.sleep(0.25)
            read = sum(counter.value for counter in counters)
            progress.count(read - progress.applied)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
    failed = [p.name for p in processes if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"rebuild workers failed: {', '.join(failed)}")


def _replay_worker(
    database_url: str,
    bootstrap_servers: str,
    targets: list[tuple[str, int, int]],
    counter: Any,  # multiprocessing.Value("q"): records read so far
) -> None:
    configure_logging("WARNING", "console")
    # The replay holds every row in memory until the end: millions of long-lived, acyclic
    # objects that the cyclic collector would scan again and again (a third of the time).
    gc.disable()

    def read(count: int) -> None:
        counter.value += count

    async def replay() -> None:
        conn = await psycopg.AsyncConnection.connect(
            database_url, options=f"-c search_path={NEXT_SCHEMA}"
        )
        async with conn, conn.transaction():
            await replay_into_empty_tables(
                conn,
                bootstrap_servers,
                {TopicPartition(topic, partition): end for topic, partition, end in targets},
                read,
                remote_sealing(RuntimeSettings().environment),
            )

    asyncio.run(replay())


async def _drop_lookup_indexes(database_url: str) -> list[str]:
    """Drop the new schema's non-unique indexes, returning their definitions: building an
    index once over the loaded rows costs PostgreSQL a fraction of maintaining it row by row
    during COPY. Unique indexes stay; the reference-data upserts need them."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute(
            "SELECT relname, pg_get_indexdef(indexrelid) FROM pg_index"
            " JOIN pg_class ON pg_class.oid = indexrelid"
            " WHERE relnamespace = %s::regnamespace AND NOT indisunique",
            (NEXT_SCHEMA,),
        )
        indexes = await cursor.fetchall()
        for name, _ in indexes:
            await conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(NEXT_SCHEMA, name)))
    return [definition for _, definition in indexes]


async def _create_indexes(database_url: str, definitions: list[str]) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for definition in definitions:
            await conn.execute(definition)


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
