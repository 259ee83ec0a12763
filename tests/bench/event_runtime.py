"""Benchmarks of the event runtime, each beside a raw baseline measured in the same run.

- append: EventStore.append (version check, event rows, outbox rows, NOTIFY) vs a plain INSERT
  of the same event rows; one event per transaction (a command) and 100 per call (an import).
- relay: outbox rows published per second vs raw aiokafka producing the same messages; and
  publish-to-consume latency (append committed -> record read by a consumer) vs raw
  produce -> consume.
- consumer: events applied per second into a table (parse, inbox, handler, positions, one
  transaction per batch) vs COPY of the same rows.

Sizes come from BENCH_EVENTS (default 50,000). PostgreSQL runs with fsync off (deploy/local).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from credflow_common.consumer import ConsumerRunner, ConsumerSettings, ConsumerSpec, Delivery
from credflow_common.db import schema_pool
from credflow_common.eventstore import EventStore, Metadata
from credflow_common.migrations import migrate
from credflow_common.relay import OutboxRelay, outbox_pending
from credflow_contracts.events.credentials import CredentialSubmitted
from credflow_contracts.topics import CREDENTIALS
from tests.factories import ORG, credential_submitted
from tests.integration.runtime_support import create_topics, delete_topics_with_prefix

EVENTS = int(os.environ.get("BENCH_EVENTS", "50000"))
SINGLE_APPENDS = min(EVENTS, 5000)
LATENCY_SAMPLES = 300
SCHEMA = "bench"


def line(name: str, count: int, seconds: float, baseline: float | None = None) -> float:
    rate = count / seconds
    ratio = f"  ({rate / baseline:.2f}x the baseline)" if baseline else ""
    print(f"  {name:<52} {rate:>10,.0f} events/s{ratio}")
    return rate


def latency_line(name: str, samples: Sequence[float], baseline: Sequence[float] | None) -> None:
    cuts = statistics.quantiles(samples, n=100)
    text = f"  {name:<52} p50 {cuts[49]:6.1f} ms   p99 {cuts[98]:6.1f} ms"
    if baseline:
        base = statistics.quantiles(baseline, n=100)
        text += f"   (baseline p50 {base[49]:.1f} / p99 {base[98]:.1f} ms)"
    print(text)


async def fresh_database(admin_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as conn:
        await conn.execute(f'CREATE DATABASE "{name}"')
    params = psycopg.conninfo.conninfo_to_dict(admin_url)
    params["dbname"] = name
    return psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]


async def drop_database(admin_url: str, url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as conn:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def bench_append(url: str, prefix: str) -> None:
    print(f"append (PostgreSQL, {SINGLE_APPENDS:,} single-event commands; {EVENTS:,} in batches)")
    store = EventStore(SCHEMA, "/credflow/bench", topic_prefix=prefix)
    meta = Metadata(ORG)
    events = [credential_submitted() for _ in range(EVENTS)]
    async with await AsyncConnection.connect(url, options=f"-c search_path={SCHEMA}") as conn:
        await conn.execute(
            "CREATE TABLE baseline_events (LIKE events INCLUDING DEFAULTS INCLUDING INDEXES)"
        )
        await conn.commit()

        started = time.perf_counter()
        for event in events[:SINGLE_APPENDS]:
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO baseline_events (stream_id, version, event_id, event_type,"
                    " tenant_id, data, metadata) VALUES (%s, 1, %s, %s, %s, %s, %s)",
                    (f"credential-{event.credential_id}", uuid.uuid4(), event.ce_type(), ORG,
                     Jsonb(event.model_dump(mode="json")), Jsonb({})),
                )  # fmt: skip
        base = line("baseline: INSERT, one event per transaction", SINGLE_APPENDS,
                    time.perf_counter() - started)  # fmt: skip
        started = time.perf_counter()
        for event in events[:SINGLE_APPENDS]:
            async with conn.transaction():
                await store.append(conn, f"credential-{event.credential_id}", 0, [event], meta)
        line("EventStore.append, one event per transaction", SINGLE_APPENDS,
             time.perf_counter() - started, base)  # fmt: skip

        await conn.execute("TRUNCATE baseline_events")
        await conn.execute("TRUNCATE events")
        await conn.execute("TRUNCATE outbox")
        await conn.commit()
        started = time.perf_counter()
        async with conn.transaction(), conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO baseline_events (stream_id, version, event_id, event_type,"
                " tenant_id, data, metadata) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(f"import-{n // 100}", n % 100 + 1, uuid.uuid4(), e.ce_type(), ORG,
                  Jsonb(e.model_dump(mode="json")), Jsonb({})) for n, e in enumerate(events)],
            )  # fmt: skip
        base = line("baseline: INSERT (executemany), one transaction", EVENTS,
                    time.perf_counter() - started)  # fmt: skip
        started = time.perf_counter()
        async with conn.transaction():
            for n in range(0, EVENTS, 100):
                await store.append(conn, f"import-{n // 100}", 0, events[n : n + 100], meta)
        line("EventStore.append, 100 events per call", EVENTS, time.perf_counter() - started, base)


async def bench_relay(url: str, bootstrap: str, topic: str) -> None:
    print(f"relay (outbox -> Kafka, {EVENTS:,} events)")
    async with await AsyncConnection.connect(url, options=f"-c search_path={SCHEMA}") as conn:
        cursor = await conn.execute("SELECT topic, key, value, headers FROM outbox ORDER BY id")
        rows = await cursor.fetchall()
    baseline_topic = topic + ".baseline"
    await create_topics(bootstrap, [baseline_topic], partitions=6)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2,
        max_batch_size=1024 * 1024,
    )  # fmt: skip
    await producer.start()
    started = time.perf_counter()
    futures = [
        await producer.send(baseline_topic, bytes(value), key=bytes(key),
                            headers=[(k, v.encode()) for k, v in headers])
        for _, key, value, headers in rows
    ]  # fmt: skip
    await asyncio.gather(*futures)
    base = line("baseline: aiokafka produce (idempotent, acks=all)", len(rows),
                time.perf_counter() - started)  # fmt: skip

    relay = OutboxRelay(url, SCHEMA, bootstrap, batch_size=2000)
    pool = schema_pool(url, SCHEMA)
    await pool.open()
    started = time.perf_counter()
    task = asyncio.create_task(relay.run())
    while True:
        async with pool.connection() as conn:
            if await outbox_pending(conn) == 0:
                break
        await asyncio.sleep(0.02)
    line("OutboxRelay (read, publish, delete)", len(rows), time.perf_counter() - started, base)

    consumer = AIOKafkaConsumer(
        topic, baseline_topic, bootstrap_servers=bootstrap, auto_offset_reset="latest",
        group_id=f"bench-latency-{uuid.uuid4().hex[:6]}", fetch_max_wait_ms=5,
    )  # fmt: skip
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    for tp in consumer.assignment():
        await consumer.seek_to_end(tp)
    await consumer.getmany(timeout_ms=200)

    async def receive(expected_topic: str) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            if any(tp.topic == expected_topic for tp in batch):
                return

    baseline_ms = []
    for n in range(LATENCY_SAMPLES):
        sent = time.perf_counter()
        await producer.send_and_wait(baseline_topic, bytes(rows[n][2]), key=bytes(rows[n][1]))
        await receive(baseline_topic)
        baseline_ms.append((time.perf_counter() - sent) * 1000)
    store = EventStore(SCHEMA, "/credflow/bench", topic_prefix=topic.removesuffix(CREDENTIALS))
    relay_ms = []
    async with pool.connection() as conn:
        for _ in range(LATENCY_SAMPLES):
            event = credential_submitted()
            sent = time.perf_counter()
            async with conn.transaction():
                await store.append(
                    conn, f"latency-{event.credential_id}", 0, [event], Metadata(ORG)
                )
            await receive(topic)
            relay_ms.append((time.perf_counter() - sent) * 1000)
    latency_line("raw produce -> consume", baseline_ms, None)
    latency_line("append commit -> relay -> consume", relay_ms, baseline_ms)
    await consumer.stop()
    await producer.stop()
    relay.stop()
    await task
    await pool.close()


async def apply_rows(conn: AsyncConnection[Any], deliveries: Sequence[Delivery]) -> None:
    async with (
        conn.cursor() as cur,
        cur.copy(
            "COPY credential_view (credential_id, holder_id, issued_on, expires_on, number)"
            " FROM STDIN"
        ) as copy,
    ):
        for delivery in deliveries:
            event = delivery.envelope.event
            assert isinstance(event, CredentialSubmitted)
            await copy.write_row((
                event.credential_id, event.holder_id, event.issued_on, event.expires_on,
                event.certification.number if event.certification else None,
            ))  # fmt: skip


async def bench_consumer(url: str, bootstrap: str, topic: str) -> None:
    print(f"consumer (Kafka -> PostgreSQL table, {EVENTS:,} events)")
    ddl = (
        "CREATE TABLE {} (credential_id uuid PRIMARY KEY, holder_id uuid NOT NULL,"
        " issued_on date NOT NULL, expires_on date, number text)"
    )
    async with await AsyncConnection.connect(url, options=f"-c search_path={SCHEMA}") as conn:
        await conn.execute(ddl.format("credential_view"))
        await conn.execute(ddl.format("baseline_view"))
        cursor = await conn.execute("SELECT data FROM events ORDER BY stream_id, version")
        rows = [
            (d["credential_id"], d["holder_id"], d["issued_on"], d["expires_on"],
             d["certification"]["number"])
            for (d,) in await cursor.fetchall()
        ][:EVENTS]  # fmt: skip
        await conn.commit()
        started = time.perf_counter()
        async with conn.cursor() as cur, cur.copy("COPY baseline_view FROM STDIN") as copy:
            for row in rows:
                await copy.write_row(row)
        await conn.commit()
        base = line("baseline: COPY of the same rows", len(rows), time.perf_counter() - started)

    pool = schema_pool(url, SCHEMA)
    await pool.open()
    runner = ConsumerRunner(
        ConsumerSpec(name="bench-projector", topics=[topic], handler=apply_rows), pool, bootstrap,
        settings=ConsumerSettings(max_batch=5000),
    )  # fmt: skip
    started = time.perf_counter()
    task = asyncio.create_task(runner.run())
    first_applied: tuple[float, int] | None = None
    while True:
        async with pool.connection() as conn:
            cursor = await conn.execute("SELECT count(*) FROM credential_view")
            counted = await cursor.fetchone()
        applied = counted[0] if counted else 0
        if applied and first_applied is None:
            first_applied = (time.perf_counter(), applied)
        if applied >= EVENTS:
            break
        await asyncio.sleep(0.02)
    finished = time.perf_counter()
    line("ConsumerRunner, from start (group join included)", EVENTS, finished - started, base)
    assert first_applied is not None
    line("ConsumerRunner, steady (parse, inbox, COPY, positions)", EVENTS - first_applied[1],
         finished - first_applied[0], base)  # fmt: skip
    runner.stop()
    await task
    await pool.close()


async def run() -> None:
    print(f"== event runtime (sizes: BENCH_EVENTS={EVENTS:,}) ==")
    admin_url = os.environ["DATABASE_URL"]
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    topic = prefix + CREDENTIALS
    await create_topics(bootstrap, [topic], partitions=6)
    url = await fresh_database(admin_url)
    try:
        await migrate(url, SCHEMA)
        await bench_append(url, prefix)
        await bench_relay(url, bootstrap, topic)
        await bench_consumer(url, bootstrap, topic)
    finally:
        await drop_database(admin_url, url)
        await delete_topics_with_prefix(bootstrap, prefix)
