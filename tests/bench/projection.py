"""Benchmarks of the projection, beside a raw COPY of the same rows measured in the same run.

- live apply: the views consumer (group join, parse, inbox, load-fold-store, positions) over
  BENCH_PROJECTION_EVENTS generated events (default 1,000,000): 20,000 people and their
  credentials, each submitted, put up for review, claimed and validated;
- rebuild: `credflow projection rebuild` over the same log into a fresh schema, then the swap;
- baseline: COPY of one audit row per event (the least any view that records every event
  must write) into an empty table.
- latency: submission HTTP call → item in the reviewer queue view, at 100 submissions/s, with
  directory, submission, review and projection each running as its own process.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, date, datetime
from typing import Any

import aiohttp
import httpx
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow.demo import create_demo
from credflow_common.consumer import ConsumerRunner, ConsumerSettings
from credflow_common.db import schema_pool
from credflow_common.migrations import migrate
from credflow_common.service import tune_garbage_collector
from credflow_common.settings import InfraSettings, RuntimeSettings
from credflow_contracts.envelope import Envelope
from credflow_contracts.events.base import Event
from credflow_contracts.events.credentials import (
    CredentialSubmitted,
    CredentialValidated,
    ReviewClaimed,
    ReviewRequested,
)
from credflow_contracts.events.directory import (
    CredentialTypeCreated,
    CredentialTypeState,
    OrganisationCreated,
    OrganisationSettings,
    UserCreated,
    UserState,
)
from credflow_contracts.ids import uuid7
from credflow_contracts.topics import ALL_TOPICS
from credflow_projection.app import MIGRATIONS
from credflow_projection.model import action_of
from credflow_projection.projector import CONSUMER, views_consumer
from credflow_projection.rebuild import rebuild
from tests.bench.event_runtime import drop_database, fresh_database, latency_line, line
from tests.bench.processes import CpuMeter, serve_instances, serve_services, stop_services
from tests.bench.scale import produce
from tests.integration.runtime_support import create_topics, delete_topics_with_prefix

EVENTS = int(os.environ.get("BENCH_PROJECTION_EVENTS", "1000000"))
PEOPLE = 20_000
ORG = uuid7()
TYPE = uuid7()


def generate(total: int) -> list[Envelope]:
    """An organisation, a credential type, `PEOPLE` people, then credentials (4 events each)
    until `total` events."""
    envelopes = [
        Envelope(event=OrganisationCreated(organisation_id=ORG, name="Bench",
                                           settings=OrganisationSettings()),
                 source="/bench", tenant_id=ORG),
        Envelope(event=CredentialTypeCreated(organisation_id=ORG,
                 credential_type=CredentialTypeState(credential_type_id=TYPE, name="Licence",
                                                     expires=True)),
                 source="/bench", tenant_id=ORG),
    ]  # fmt: skip
    people = [uuid7() for _ in range(PEOPLE)]
    for index, person in enumerate(people):
        user = UserState(user_id=person, email=f"p{index}@bench.test", name=f"Person {index}",
                         status="active", roles=["worker"])  # fmt: skip
        envelopes.append(Envelope(event=UserCreated(organisation_id=ORG, user=user),
                                  source="/bench", tenant_id=ORG))  # fmt: skip
    reviewer = people[0]
    credentials = (total - len(envelopes)) // 4
    chunk = 1000
    for start in range(0, credentials, chunk):
        ids = [(uuid7(), uuid7(), uuid7(), people[(start + i) % PEOPLE])
               for i in range(min(chunk, credentials - start))]  # fmt: skip
        stages: list[list[Event]] = [
            [CredentialSubmitted(credential_id=c, organisation_id=ORG, holder_id=h,
                                 credential_type_id=TYPE, version_id=v, issued_on=date(2026, 1, 1),
                                 expires_on=date(2031, 1, 1), submitted_by=h)
             for c, v, _, h in ids],
            [ReviewRequested(credential_id=c, organisation_id=ORG, review_id=r, version_id=v,
                             version_number=1, holder_id=h, credential_type_id=TYPE,
                             routing="managers", reviewer_ids=[reviewer])
             for c, v, r, h in ids],
            [ReviewClaimed(credential_id=c, organisation_id=ORG, review_id=r, version_id=v,
                           claimed_by=reviewer) for c, v, r, _ in ids],
            [CredentialValidated(credential_id=c, organisation_id=ORG, review_id=r, version_id=v,
                                 validated_by=reviewer) for c, v, r, _ in ids],
        ]  # fmt: skip
        for stage in stages:
            envelopes += [Envelope(event=e, source="/bench", tenant_id=ORG) for e in stage]
    return envelopes


async def copy_baseline(url: str, envelopes: list[Envelope]) -> float:
    rows: list[tuple[Any, ...]] = [
        (e.id, ORG, getattr(e.event, "credential_id", ORG), e.time, action_of(e.event),
         None, getattr(e.event, "version_id", None), None, e.event.model_dump_json())
        for e in envelopes
    ]  # fmt: skip
    async with await AsyncConnection.connect(url) as conn:
        await conn.execute(
            "CREATE TABLE baseline_audit (event_id uuid PRIMARY KEY, organisation_id uuid,"
            " credential_id uuid, occurred_at timestamptz, action text, actor_id uuid,"
            " version_id uuid, import_id uuid, detail jsonb)"
        )
        await conn.commit()
        started = time.perf_counter()
        async with conn.cursor() as cur, cur.copy("COPY baseline_audit FROM STDIN") as copy:
            for row in rows:
                await copy.write_row(row)
        await conn.commit()
        return line("baseline: COPY of one audit row per event", len(rows),
                    time.perf_counter() - started)  # fmt: skip


async def live_apply(url: str, bootstrap: str, prefix: str, total: int, base: float) -> None:
    await migrate(url, "projection", [MIGRATIONS])
    tune_garbage_collector()  # as every service process does on start
    pool = schema_pool(url, "projection", max_size=3)
    await pool.open()
    runner = ConsumerRunner(
        views_consumer(prefix), pool, bootstrap, settings=ConsumerSettings(max_batch=5000)
    )
    meter = CpuMeter({})
    meter.start()
    started = time.perf_counter()
    task = asyncio.create_task(runner.run())
    first, finished = await views_applied(pool, total)
    meter.stop()
    runner.stop()
    await task
    await pool.close()
    line("live apply, from start (group join included)", total, finished - started, base)
    line("live apply, steady (batched load-fold-store)", total - first[1],
         finished - first[0], base)  # fmt: skip
    print(f"    {meter.line()}")


async def views_applied(
    pool: AsyncConnectionPool[AsyncConnection[Any]], total: int
) -> tuple[tuple[float, int], float]:
    """Wait until the views consumer has applied `total` events: when it had applied its
    first ones (and how many), and when it was done."""
    first: tuple[float, int] | None = None
    while True:
        async with pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT coalesce(sum(next_offset), 0) FROM consumer_positions WHERE consumer = %s",
                (CONSUMER,),
            )
            row = await cursor.fetchone()
        applied = int(row[0]) if row else 0
        if applied and first is None:
            first = (time.perf_counter(), applied)
        if applied >= total and first is not None:
            return first, time.perf_counter()
        await asyncio.sleep(0.05)


async def live_apply_in_processes(
    admin_url: str, bootstrap: str, prefix: str, total: int, base: float, count: int
) -> None:
    """The same log applied by `count` projection service processes (one consumer group
    sharing the partitions) into a fresh database, start-up included."""
    url = await fresh_database(admin_url)
    meter = CpuMeter({})
    meter.start()
    started = time.perf_counter()
    ports = [("projection", SCALE_OUT_PORT + index) for index in range(count)]
    processes = await serve_instances(url, bootstrap, prefix, ports)
    meter.services.update({process.pid: f"projection {n + 1}" for n, process in
                           enumerate(processes)})  # fmt: skip
    try:
        async with await AsyncConnection.connect(url, autocommit=True) as conn:
            while True:
                if await _applied(conn) >= total:
                    break
                await asyncio.sleep(0.05)
        meter.stop()
        line(f"live apply, {count} projection processes (start-up included)", total,
             time.perf_counter() - started, base)  # fmt: skip
        print(f"    {meter.line()}")
    finally:
        await stop_services(processes)
        await drop_database(admin_url, url)


async def _applied(conn: AsyncConnection[Any]) -> int:
    cursor = await conn.execute(
        "SELECT coalesce(sum(next_offset), 0) FROM projection.consumer_positions"
        " WHERE consumer = %s",
        (CONSUMER,),
    )
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def settle(url: str) -> None:
    """VACUUM ANALYZE what the live apply wrote, as autovacuum would within the minute: the
    rebuild is measured on a settled database, not racing that (16 s of one core here)."""
    started = time.perf_counter()
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("VACUUM ANALYZE")
    print(f"  VACUUM ANALYZE after the live apply: {time.perf_counter() - started:.1f} s")


LATENCY_RATE = 100  # submissions per second
LATENCY_SECONDS = int(os.environ.get("BENCH_LATENCY_SECONDS", "20"))
# The services' first seconds under load open pool connections and prepare statements; the
# figures are for the steady state after them.
LATENCY_WARMUP_SECONDS = 3
SCALE_OUT_PORT = 18311
LATENCY_PORTS = {"directory": 18301, "submission": 18302, "review": 18303, "projection": 18304}


async def bench_queue_latency(url: str, bootstrap: str, prefix: str) -> None:
    total = LATENCY_RATE * LATENCY_SECONDS
    print(f"latency: submission HTTP call -> item in the reviewer queue view"
          f" ({total:,} submissions at {LATENCY_RATE}/s after a {LATENCY_WARMUP_SECONDS} s"
          " warm-up at the same rate, one process per service)")  # fmt: skip
    processes = await serve_services(url, bootstrap, prefix, LATENCY_PORTS)
    try:
        demo = await asyncio.to_thread(
            create_demo, f"http://127.0.0.1:{LATENCY_PORTS['directory']}"
        )
        type_id = await asyncio.to_thread(_electrical_type, demo)
        submission = f"http://127.0.0.1:{LATENCY_PORTS['submission']}"
        url_path = f"{submission}/organisations/{demo.organisation_id}/credentials"
        headers = {"Authorization": f"Bearer {demo.token('worker')}"}
        body = {"credential_type_id": type_id, "issued_on": "2026-06-01"}
        started: dict[str, float] = {}
        seen: dict[str, float] = {}
        # aiohttp: the load generator shares the two cores with every service, so it must
        # cost little per request.
        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(connector=connector, headers=headers) as client:
            for _ in range(300):  # until the submission service's replica knows the type
                async with client.post(url_path, json=body) as response:
                    if response.status == 201:
                        break
                await asyncio.sleep(0.1)
            listening = asyncio.Event()
            watcher = asyncio.create_task(_watch_queue(url, seen, listening))
            await listening.wait()

            async def submit(into: dict[str, float]) -> None:
                at = time.perf_counter()
                async with client.post(url_path, json=body) as response:
                    response.raise_for_status()
                    into[(await response.json())["credential_id"]] = at

            async def load(count: int, into: dict[str, float]) -> float:
                """`count` submissions at `LATENCY_RATE`; returns the achieved rate."""
                t0 = time.perf_counter()
                tasks = []
                for index in range(count):
                    await asyncio.sleep(max(t0 + index / LATENCY_RATE - time.perf_counter(), 0))
                    tasks.append(asyncio.create_task(submit(into)))
                await asyncio.gather(*tasks)
                return count / (time.perf_counter() - t0)

            warm: dict[str, float] = {}
            await load(LATENCY_RATE * LATENCY_WARMUP_SECONDS, warm)
            meter = CpuMeter(dict(zip(LATENCY_PORTS, processes, strict=True)))
            meter.start()
            achieved = await load(total, started)
            meter.stop()
            for _ in range(1200):  # up to a minute for the last items
                if set(started) <= set(seen):
                    break
                await asyncio.sleep(0.05)
            watcher.cancel()
        for label, sent in ((f"warm-up, first {LATENCY_WARMUP_SECONDS} s (not counted)", warm),
                            (f"submission -> reviewer queue ({achieved:.0f} submitted/s)",
                             started)):  # fmt: skip
            latencies = [(seen[c] - at) * 1000 for c, at in sent.items() if c in seen]
            latency_line(label, latencies, None)
            if missing := len(sent) - len(latencies):
                print(f"  !! {missing} submissions never reached the queue view")
        print(f"    while submitting: {meter.line()}")
    finally:
        await stop_services(processes)


def _electrical_type(demo: Any) -> str:
    """The reviewed type the load submits. At 100 submissions a second the organisation
    sends its reviewers digests, not one mail per item (the SMTP sink would otherwise compete
    for these two cores as no real mail server would)."""
    directory = (
        f"http://127.0.0.1:{LATENCY_PORTS['directory']}/organisations/{demo.organisation_id}"
    )
    admin = {"Authorization": f"Bearer {demo.token('admin')}"}
    httpx.patch(
        f"{directory}/settings", json={"review_notifications": "digest"}, headers=admin
    ).raise_for_status()
    items = httpx.get(f"{directory}/credential-types", headers=admin).json()["items"]
    return str(next(t["credential_type_id"] for t in items if t["name"] == "Electrical licence"))


async def _watch_queue(url: str, seen: dict[str, float], listening: asyncio.Event) -> None:
    """Notes when each submitted credential's review item becomes visible in the view's table:
    a trigger (the bench's own, added to the view's table) sends a NOTIFY per opened item,
    delivered when the projection's transaction commits. Listening costs the measured system
    nothing between items, where polling the table every few milliseconds would compete with
    it for these two cores."""
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(WATCH_TRIGGER)
        await conn.execute("LISTEN bench_review_items")
        listening.set()
        async for notice in conn.notifies():
            seen.setdefault(notice.payload, time.perf_counter())


WATCH_TRIGGER = """
CREATE OR REPLACE FUNCTION projection.bench_notify_open_item() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state = 'open' THEN
        PERFORM pg_notify('bench_review_items', NEW.credential_id::text);
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER bench_notify_open_item AFTER INSERT OR UPDATE ON projection.review_items
FOR EACH ROW EXECUTE FUNCTION projection.bench_notify_open_item();
"""


async def run() -> None:
    print(f"== projection (BENCH_PROJECTION_EVENTS={EVENTS:,}) ==")
    admin_url = os.environ["DATABASE_URL"]
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = f"benchp{uuid.uuid4().hex[:6]}."
    await create_topics(bootstrap, [prefix + t for t in ALL_TOPICS], partitions=6)
    url = await fresh_database(admin_url)
    try:
        started = time.perf_counter()
        envelopes = generate(EVENTS)
        await produce(bootstrap, prefix, envelopes)
        print(f"  generated and produced {len(envelopes):,} events in"
              f" {time.perf_counter() - started:.1f} s")  # fmt: skip
        base = await copy_baseline(url, envelopes)
        total = len(envelopes)
        del envelopes
        await live_apply(url, bootstrap, prefix, total, base)
        await settle(url)
        meter = CpuMeter({})
        meter.start()
        started = time.perf_counter()
        report = await rebuild(
            InfraSettings(database_url=url, kafka_bootstrap_servers=bootstrap),
            RuntimeSettings(topic_prefix=prefix),
        )
        line("rebuild into a fresh schema, then swap", report.events_applied,
             time.perf_counter() - started, base)  # fmt: skip
        meter.stop()
        print(f"    {meter.line()} (bench: this process and its replay workers)")
        await live_apply_in_processes(admin_url, bootstrap, prefix, total, base, 2)
    finally:
        await drop_database(admin_url, url)
        await delete_topics_with_prefix(bootstrap, prefix)
    prefix = f"benchl{uuid.uuid4().hex[:6]}."
    await create_topics(bootstrap, [prefix + t for t in ALL_TOPICS], partitions=6)
    url = await fresh_database(admin_url)
    try:
        await bench_queue_latency(url, bootstrap, prefix)
    finally:
        await drop_database(admin_url, url)
        await delete_topics_with_prefix(bootstrap, prefix)
    print(f"  (finished {datetime.now(UTC):%H:%M:%S})")
