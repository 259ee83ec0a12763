"""Raw baselines of the real parts on this machine: what credflow's own figures compare against.

- PostgreSQL: rows/s for executemany INSERT vs COPY of the same 50,000 event-sized rows.
- Kafka: messages/s for an idempotent acks=all aiokafka producer, and for a consumer reading
  them back with getmany, plus produce-to-consume latency p50/p99 for single messages.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.integration.runtime_support import delete_topics_with_prefix

ROWS = 50_000
MESSAGES = 50_000
LATENCY_SAMPLES = 500


def payload(n: int) -> dict[str, object]:
    return {
        "credential_id": str(uuid.UUID(int=n)),
        "holder_id": str(uuid.UUID(int=n * 7)),
        "type": "Driver's licence",
        "issued_on": "2026-01-01",
        "expires_on": "2031-01-01",
        "number": f"DL-{n:08d}",
    }


def report(name: str, count: int, seconds: float, baseline: float | None = None) -> float:
    rate = count / seconds
    ratio = f"   ({rate / baseline:.2f}x baseline)" if baseline else ""
    print(f"  {name:<44} {rate:>12,.0f} /s{ratio}")
    return rate


async def bench_postgres(url: str) -> None:
    print("PostgreSQL")
    rows = [(str(uuid.UUID(int=n)), n, json.dumps(payload(n))) for n in range(ROWS)]
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await conn.execute("CREATE TEMP TABLE bench_rows (stream_id uuid, version int, data jsonb)")
        started = time.perf_counter()
        async with conn.cursor() as cur:
            await cur.executemany("INSERT INTO bench_rows VALUES (%s, %s, %s)", rows)
        await conn.commit()
        insert_rate = report("INSERT (executemany, one transaction)", ROWS,
                             time.perf_counter() - started)  # fmt: skip
        await conn.execute("TRUNCATE bench_rows")
        started = time.perf_counter()
        async with conn.cursor() as cur, cur.copy("COPY bench_rows FROM STDIN") as copy:
            for row in rows:
                await copy.write_row(row)
        await conn.commit()
        report("COPY", ROWS, time.perf_counter() - started, baseline=insert_rate)


async def bench_kafka(bootstrap: str) -> None:
    print("Kafka")
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
    await admin.close()
    values = [json.dumps(payload(n)).encode() for n in range(MESSAGES)]

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    started = time.perf_counter()
    for n, value in enumerate(values):
        await producer.send(topic, value, key=str(n % 5000).encode())
    await producer.flush()
    report("produce (idempotent, acks=all)", MESSAGES, time.perf_counter() - started)

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"bench-{topic}",
        auto_offset_reset="earliest", max_poll_records=5000,
    )  # fmt: skip
    await consumer.start()
    seen = 0
    started = time.perf_counter()
    while seen < MESSAGES:
        batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
        seen += sum(len(records) for records in batch.values())
    report("consume (getmany)", MESSAGES, time.perf_counter() - started)

    latencies = []
    for n in range(LATENCY_SAMPLES):
        sent = time.perf_counter()
        await producer.send_and_wait(topic, values[n], key=b"latency")
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            if batch:
                break
        latencies.append((time.perf_counter() - sent) * 1000)
    cuts = statistics.quantiles(latencies, n=100)
    print(f"  {'produce-to-consume latency':<44} p50 {cuts[49]:.1f} ms   p99 {cuts[98]:.1f} ms")
    await consumer.stop()
    await producer.stop()
    await delete_topics_with_prefix(bootstrap, topic)


async def run() -> None:
    print("== raw infrastructure baselines ==")
    await bench_postgres(os.environ["DATABASE_URL"])
    await bench_kafka(os.environ["KAFKA_BOOTSTRAP_SERVERS"])
