"""Benchmarks of bulk import (20,000 rows), beside a raw floor measured in the same run.

- validation: reading and checking the file in this process (`csvfile.validate`), and the
  upload HTTP call (the same against the importer's directory replica, plus storing the draft
  and its rows);
- finish → fully projected: from the finish HTTP call until all 20,000 credentials are rows of
  the projection's credentials view, with directory, submission, review, importer and
  projection each running as its own process;
- raw floor: produce and consume 20,000 events with plain aiokafka, then COPY 20,000 rows.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from psycopg import AsyncConnection

from credflow.demo import create_demo
from credflow_contracts.topics import ALL_TOPICS
from credflow_importer.csvfile import MAX_ROWS, Directory, KnownType, KnownUser, validate
from tests.bench.event_runtime import drop_database, fresh_database
from tests.bench.processes import CpuMeter, serve_services, stop_services
from tests.integration.runtime_support import create_topics, delete_topics_with_prefix

ROWS = MAX_ROWS
PORTS = {"directory": 18401, "submission": 18402, "review": 18403, "importer": 18404,
         "projection": 18405}  # fmt: skip
TYPE_NAME = "First aid certificate"
HEADER = "email,credential_type,issued_on,expires_on,certification_number,issuer,notes"


def import_file(emails: list[str]) -> bytes:
    lines = [HEADER]
    for index in range(ROWS):
        day, month, year = 1 + index % 28, 1 + index % 12, 2015 + index % 10
        lines.append(f"{emails[index % len(emails)]},{TYPE_NAME},{day:02}/{month:02}/{year},"
                     f"{day:02}/{month:02}/{year + 3},FA-{index:06},St John Ambulance,"
                     f"imported row {index}")  # fmt: skip
    return ("\n".join(lines) + "\n").encode()


def seconds_line(name: str, seconds: float, floor: float | None = None) -> None:
    ratio = f"  ({seconds / floor:.1f}x the floor)" if floor else ""
    print(f"  {name:<60} {seconds:7.2f} s{ratio}")


async def raw_floor(url: str, bootstrap: str, prefix: str) -> float:
    """Produce and consume 20,000 events with plain aiokafka, then COPY 20,000 rows."""
    topic = prefix + "floor"
    await create_topics(bootstrap, [topic], partitions=6)
    started = time.perf_counter()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    value = b'{"credential_id": "' + b"x" * 36 + b'", "row": 1}'
    await asyncio.gather(*[
        await producer.send(topic, value, key=str(index).encode()) for index in range(ROWS)
    ])  # fmt: skip
    await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"{prefix}floor")  # fmt: skip
    await consumer.start()
    seen = 0
    while seen < ROWS:
        batch = await consumer.getmany(timeout_ms=500, max_records=5000)
        seen += sum(len(records) for records in batch.values())
    await consumer.stop()
    async with await AsyncConnection.connect(url) as conn:
        await conn.execute("CREATE TABLE floor (id uuid, row_number int, issued_on date)")
        async with (
            conn.cursor() as cursor,
            cursor.copy("COPY floor (id, row_number, issued_on) FROM STDIN") as copy,
        ):
            for index in range(ROWS):
                await copy.write_row((uuid.uuid4(), index, datetime.now(UTC).date()))
        await conn.commit()
    return time.perf_counter() - started


def bench_validation_in_process(raw: bytes, emails: list[str]) -> None:
    users = {email.lower(): KnownUser(uuid.uuid4(), True) for email in emails}
    kind = KnownType(uuid.uuid4(), TYPE_NAME, True, 36, False, False)
    directory = Directory(users, {TYPE_NAME.lower(): kind})
    started = time.perf_counter()
    result = validate(raw, "DD/MM/YYYY", directory)
    elapsed = time.perf_counter() - started
    assert len(result.valid) == ROWS, result.problems[:3]
    seconds_line(f"validate {ROWS:,} rows (csvfile, in process)", elapsed)


async def bench_import(url: str, bootstrap: str, prefix: str, floor: float) -> None:
    processes = await serve_services(url, bootstrap, prefix, PORTS)
    try:
        demo = await asyncio.to_thread(create_demo, f"http://127.0.0.1:{PORTS['directory']}")
        workers = [p["email"] for label, p in demo.people.items() if label.startswith("worker")]
        raw = import_file(workers)
        bench_validation_in_process(raw, workers)
        admin = {"Authorization": f"Bearer {demo.token('admin')}"}
        base = f"http://127.0.0.1:{PORTS['importer']}/organisations/{demo.organisation_id}"
        async with httpx.AsyncClient(timeout=120, headers=admin) as client:
            report = await _upload_when_replicated(client, base, raw)
            assert report["valid_rows"] == ROWS, report["problems"][:3]
            async with (
                await AsyncConnection.connect(url, autocommit=True) as conn,
                await AsyncConnection.connect(url, autocommit=True) as listener,
            ):
                await listener.execute(WATCH_TRIGGER)
                await listener.execute("LISTEN bench_credentials")
                before = await _projected(conn, demo.organisation_id)  # the demo's own
                import_id = uuid.UUID(report["import_id"])
                meter = CpuMeter(dict(zip(PORTS, processes, strict=True)))
                meter.start()
                started = time.perf_counter()
                response = await client.post(f"{base}/imports/{import_id}/finish")
                response.raise_for_status()
                sent_at, projected = await _wait_until_projected(
                    conn, listener, import_id, demo.organisation_id, before
                )
                finished = time.perf_counter()
                meter.stop()
        seconds_line(f"finish → all {ROWS:,} rows sent as commands", sent_at - started)
        seconds_line(f"finish → all {ROWS:,} credentials in the worker view", finished - started,
                     floor)  # fmt: skip
        print(f"    {meter.line()}")
        assert projected == ROWS
    finally:
        await stop_services(processes)


async def _upload_when_replicated(client: httpx.AsyncClient, base: str, raw: bytes) -> Any:
    """Upload once the importer's replica knows the demo's people and types (the bench created
    them a moment ago); the second upload, a re-upload, is the one timed."""
    for _ in range(600):
        response = await client.post(f"{base}/imports", files={"file": ("b.csv", raw, "text/csv")})
        if response.status_code == 201 and response.json()["valid_rows"] == ROWS:
            break
        await asyncio.sleep(0.2)
    else:
        raise RuntimeError(f"the importer never accepted the file: {response.text[:300]}")
    path = f"{base}/imports/{response.json()['import_id']}/file"
    started = time.perf_counter()
    response = await client.put(path, files={"file": ("bench.csv", raw, "text/csv")})
    response.raise_for_status()
    seconds_line(f"upload {ROWS:,} rows (HTTP: validate against the replica, store)",
                 time.perf_counter() - started)  # fmt: skip
    return response.json()


async def _projected(conn: AsyncConnection[Any], org: uuid.UUID) -> int:
    cursor = await conn.execute(
        "SELECT count(*) FROM projection.credentials WHERE organisation_id = %s", (org,)
    )
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _wait_until_projected(
    conn: AsyncConnection[Any],
    listener: AsyncConnection[Any],
    import_id: uuid.UUID,
    org: uuid.UUID,
    before: int,
) -> tuple[float, int]:
    """Watching must not slow down what is watched: the view's rows are counted when a trigger
    of the bench's own on the view's table notifies a committed insert (or after 0.25 s), and
    "all rows sent" is read from the importer's job row, not its progress API (which
    aggregates all 20,000 rows)."""
    sent_at = 0.0
    deadline = time.perf_counter() + 600
    while time.perf_counter() < deadline:
        if not sent_at:
            cursor = await conn.execute(
                "SELECT rows_sent = %s FROM importer.imports WHERE import_id = %s",
                (ROWS, import_id),
            )
            if (await cursor.fetchone()) == (True,):
                sent_at = time.perf_counter()
        projected = await _projected(conn, org) - before
        if projected >= ROWS:
            return sent_at or time.perf_counter(), projected
        async for _ in listener.notifies(timeout=0.25, stop_after=1):
            pass
    raise RuntimeError("the credentials never all reached the worker view")


WATCH_TRIGGER = """
CREATE OR REPLACE FUNCTION projection.bench_notify_credentials() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bench_credentials', '');
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER bench_notify_credentials AFTER INSERT ON projection.credentials
FOR EACH STATEMENT EXECUTE FUNCTION projection.bench_notify_credentials();
"""


async def run() -> None:
    print(f"== bulk import ({ROWS:,} rows) ==")
    admin_url = os.environ["DATABASE_URL"]
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = f"benchi{uuid.uuid4().hex[:6]}."
    await create_topics(bootstrap, [prefix + t for t in ALL_TOPICS], partitions=6)
    url = await fresh_database(admin_url)
    try:
        floor = await raw_floor(url, bootstrap, prefix)
        seconds_line(f"raw floor: produce+consume {ROWS:,} events (aiokafka), COPY {ROWS:,} rows",
                     floor)  # fmt: skip
        await bench_import(url, bootstrap, prefix, floor)
    finally:
        await drop_database(admin_url, url)
        await delete_topics_with_prefix(bootstrap, prefix)
    print(f"  (finished {datetime.now(UTC):%H:%M:%S})")
