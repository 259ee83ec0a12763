"""The views at the scale PRODUCT.md promises: one tenant of BENCH_SCALE_WORKERS workers
(default 100,000, about five credentials each; see `scale_data`) beside four tenants of 1,000,
generated as the contracts' events, produced to Kafka and projected by the projection service
running as its own process (`credflow serve projection`).

Printed: how fast the projection applied each part; then p50/p95/p99 of every view over HTTP
(as an admin, a client viewer, a manager and a reviewer), each beside its raw floor measured in
the same run (a plain SELECT of as many rows from the same table, or a COPY for the export);
the export's first byte, rate and the server's memory; and a small tenant's pages alone and
once the big tenant shares the deployment.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaProducer
from psycopg import AsyncConnection

from credflow_common.auth import issue_dev_token
from credflow_contracts.envelope import Envelope
from credflow_contracts.topics import ALL_TOPICS
from credflow_projection.projector import CONSUMER
from tests.bench.event_runtime import drop_database, fresh_database
from tests.bench.processes import serve_services, stop_services
from tests.bench.scale_data import Tenant, tenant
from tests.bench.scale_upkeep import rebuild_every_tenant, sizes
from tests.integration.runtime_support import create_topics, delete_topics_with_prefix

WORKERS = int(os.environ.get("BENCH_SCALE_WORKERS", "100000"))
SMALL_WORKERS = 1000
SMALL_TENANTS = 4
REPEAT = int(os.environ.get("BENCH_SCALE_REPEAT", "40"))
PORT = 18311
Timer = Callable[[], Awaitable[None]]


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


async def sample(timer: Timer, repeat: int = REPEAT) -> list[float]:
    for _ in range(3):  # warm-up: pool connections, prepared plans, caches
        await timer()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await timer()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def report(name: str, samples: list[float], floor: list[float] | None = None) -> float:
    p50, p95, p99 = percentiles(samples)
    text = f"  {name:<56} p50 {p50:7.1f}  p95 {p95:7.1f}  p99 {p99:7.1f} ms"
    if floor:
        text += f"   floor p50 {percentiles(floor)[0]:5.1f} ms"
    print(text, flush=True)
    return p95


class Views:
    """The projection's HTTP API for one tenant, as a given person."""

    def __init__(self, client: httpx.AsyncClient, facts: Tenant) -> None:
        self.client, self.facts = client, facts
        self.base = f"http://127.0.0.1:{PORT}/organisations/{facts.organisation_id}"

    def headers(self, user_id: uuid.UUID | None, role: str) -> dict[str, str]:
        assert user_id is not None
        token = issue_dev_token(user_id, self.facts.organisation_id, [role])
        return {"Authorization": f"Bearer {token}"}

    def timer(self, path: str, as_: dict[str, str], **params: Any) -> Timer:
        async def get() -> None:
            response = await self.client.get(self.base + path, params=params, headers=as_)
            response.raise_for_status()

        return get

    async def cursor_of_page(self, number: int, as_: dict[str, str]) -> str:
        cursor: str | None = None
        for _ in range(number - 1):
            params: dict[str, str] = {"cursor": cursor} if cursor else {}
            page = await self.client.get(self.base + "/credentials", params=params, headers=as_)
            cursor = page.json()["next_cursor"]
        assert cursor, "the tenant has fewer pages than that"
        return str(cursor)


class Floors:
    """Raw SELECTs of as many rows from the same tables, with no join, order or status."""

    def __init__(self, conn: AsyncConnection[Any], facts: Tenant) -> None:
        self.conn, self.org = conn, facts.organisation_id

    def timer(self, query: str, *params: Any) -> Timer:
        async def run() -> None:
            cursor = await self.conn.execute(query, (self.org, *params))
            await cursor.fetchall()

        return run

    async def measure(self, query: str, *params: Any) -> list[float]:
        return await sample(self.timer(query, *params))


LIST_FLOOR = "SELECT * FROM projection.credentials WHERE organisation_id = %s LIMIT 50"
WORKERS_FLOOR = "SELECT * FROM projection.people WHERE organisation_id = %s LIMIT 50"
COMPANIES_FLOOR = "SELECT * FROM projection.companies WHERE organisation_id = %s"
PROFILE_FLOOR = "SELECT * FROM projection.credentials WHERE organisation_id = %s AND holder_id = %s"
QUEUE_FLOOR = (
    "SELECT * FROM projection.review_items WHERE organisation_id = %s AND state = 'open' LIMIT 100"
)


async def produce(
    bootstrap: str, prefix: str, envelopes: Iterable[Envelope],
    payloads: Sequence[bytes | None] | None = None,
) -> int:  # fmt: skip
    """Publish `envelopes` (with `payloads`, their sealed JSON, where given) under `prefix`."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20,
        max_batch_size=1024 * 1024,
    )  # fmt: skip
    await producer.start()
    sent = 0
    try:
        futures = []
        for index, envelope in enumerate(envelopes):
            record = envelope.to_kafka(payloads[index] if payloads is not None else None)
            futures.append(await producer.send(
                prefix + envelope.event.TOPIC, record.value, key=record.key,
                headers=list(record.headers),
            ))  # fmt: skip
            sent += 1
            if len(futures) >= 20_000:
                await asyncio.gather(*futures)
                futures = []
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


async def applied(url: str) -> int:
    async with await AsyncConnection.connect(url) as conn:
        cursor = await conn.execute(
            "SELECT coalesce(sum(next_offset), 0) FROM projection.consumer_positions"
            " WHERE consumer = %s", (CONSUMER,),
        )  # fmt: skip
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def project(url: str, bootstrap: str, prefix: str, facts: list[Tenant],
                  events: Iterable[Envelope], total_before: int) -> int:  # fmt: skip
    """Produce the events while the projection applies them; print both rates."""
    started = time.perf_counter()
    produced = await produce(bootstrap, prefix, events)
    produced_in = time.perf_counter() - started
    while True:
        if (done := await applied(url)) >= total_before + produced:
            break
        await asyncio.sleep(0.2)
    seconds = time.perf_counter() - started
    credentials = sum(f.credentials for f in facts)
    print(f"  {len(facts)} tenant(s), {sum(f.workers for f in facts):,} workers,"
          f" {credentials:,} credentials: {produced:,} events produced in {produced_in:.0f} s,"
          f" applied by the projection process in {seconds:.0f} s"
          f" ({produced / seconds:,.0f} events/s, generation included)", flush=True)  # fmt: skip
    return done


async def small_tenant_pages(views: Views, label: str) -> dict[str, float]:
    admin = views.headers(views.facts.admin_id, "admin")
    timers = {
        "credentials, first page": views.timer("/credentials", admin),
        "credentials status=expired": views.timer("/credentials", admin, status="expired"),
        "companies": views.timer("/companies", admin),
    }
    return {name: report(f"small tenant {label}: {name}", await sample(timer))
            for name, timer in timers.items()}  # fmt: skip


async def big_tenant_pages(views: Views, floors: Floors) -> None:
    facts = views.facts
    admin = views.headers(facts.admin_id, "admin")
    viewer = views.headers(facts.viewer_id, "client_viewer")
    manager = views.headers(facts.manager_id, "manager")
    reviewer = views.headers(facts.reviewer_id, "reviewer")
    list_floor = await floors.measure(LIST_FLOOR)
    page_20 = await views.cursor_of_page(20, admin)
    cases: list[tuple[str, Timer, list[float]]] = [
        ("credentials, first page, no filter", views.timer("/credentials", admin), list_floor),
        (
            f"credentials q={facts.common_surname}",
            views.timer("/credentials", admin, q=facts.common_surname),
            list_floor,
        ),
        (
            "credentials, page 20 by cursor",
            views.timer("/credentials", admin, cursor=page_20),
            list_floor,
        ),
        (
            "credentials status=expired",
            views.timer("/credentials", admin, status="expired"),
            list_floor,
        ),
        (
            "credentials status=pending",
            views.timer("/credentials", admin, status="pending"),
            list_floor,
        ),
        (
            "credentials company_id=<largest>",
            views.timer("/credentials", admin, company_id=str(facts.largest_company)),
            list_floor,
        ),
        (
            "credentials credential_type_id=<a type>",
            views.timer("/credentials", admin, credential_type_id=str(facts.a_type)),
            list_floor,
        ),
        (
            "credentials expiring_within_days=30",
            views.timer("/credentials", admin, expiring_within_days=30),
            list_floor,
        ),
        ("credentials, client viewer, first page", views.timer("/credentials", viewer), list_floor),
        ("credentials, manager, first page", views.timer("/credentials", manager), list_floor),
        (
            "companies (compliance counts)",
            views.timer("/companies", viewer),
            await floors.measure(COMPANIES_FLOOR),
        ),
        (
            "workers, first page",
            views.timer("/workers", viewer),
            await floors.measure(WORKERS_FLOOR),
        ),
        (
            f"workers q={facts.common_surname}",
            views.timer("/workers", viewer, q=facts.common_surname),
            [],
        ),
        ("workers, manager", views.timer("/workers", manager), []),
        (
            "a company's workers (largest), first page",
            views.timer(f"/companies/{facts.largest_company}/workers", viewer),
            [],
        ),
        (
            "a worker's profile",
            views.timer(f"/workers/{facts.a_worker}", viewer),
            await floors.measure(PROFILE_FLOOR, facts.a_worker),
        ),
        (
            "review queue (reviewer), first page",
            views.timer("/review-queue", reviewer),
            await floors.measure(QUEUE_FLOOR),
        ),
        ("dashboard summary", views.timer("/summary", viewer), []),
    ]
    for name, timer, floor in cases:
        report(name, await sample(timer), floor or None)


async def export(views: Views, url: str, pid: int | None) -> None:
    """The whole tenant's credentials.csv: first byte, rows/s against a COPY of the tenant's
    rows, and the server's resident memory growth while it streams."""
    org = views.facts.organisation_id
    async with await AsyncConnection.connect(url) as conn:
        started = time.perf_counter()
        copied = 0
        query = "COPY (SELECT * FROM projection.credentials WHERE organisation_id = %s) TO STDOUT"
        cursor = conn.cursor()
        async with cursor.copy(query, (org,)) as copy:
            while chunk := await copy.read():
                copied += bytes(chunk).count(b"\n")
        floor = copied / (time.perf_counter() - started)
    resident = _ResidentMemory(pid)
    watcher = asyncio.create_task(resident.watch())
    headers = views.headers(views.facts.admin_id, "admin")
    started = time.perf_counter()
    first_byte, lines = 0.0, 0
    async with views.client.stream("GET", views.base + "/credentials.csv", headers=headers,
                                   timeout=600) as response:  # fmt: skip
        async for chunk in response.aiter_bytes():
            if not first_byte:
                first_byte = time.perf_counter() - started
            lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    watcher.cancel()
    rate = (lines - 1) / seconds
    print(
        f"  credentials.csv, whole tenant: {lines - 1:,} rows in {seconds:.1f} s, first byte"
        f" {first_byte * 1000:.0f} ms, {rate:,.0f} rows/s = {rate / floor:.2f}x the COPY floor"
        f" ({floor:,.0f} rows/s); server memory +{resident.growth_mb:.0f} MB",
        flush=True,
    )


class _ResidentMemory:
    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.start = self.peak = self.read()

    def read(self) -> int:
        if self.pid is None:
            return 0
        with open(f"/proc/{self.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))

    async def watch(self) -> None:
        while True:
            self.peak = max(self.peak, self.read())
            await asyncio.sleep(0.05)

    @property
    def growth_mb(self) -> float:
        return max(self.peak - self.start, 0) / 1024


async def run() -> None:
    print(
        f"== views at scale (BENCH_SCALE_WORKERS={WORKERS:,}, {SMALL_TENANTS} tenants of"
        f" {SMALL_WORKERS:,} beside it; {REPEAT} timed requests per figure) ==",
        flush=True,
    )
    admin_url = os.environ["DATABASE_URL"]
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = f"benchs{uuid.uuid4().hex[:6]}."
    await create_topics(bootstrap, [prefix + t for t in ALL_TOPICS], partitions=6)
    url = await fresh_database(admin_url)
    processes = await serve_services(url, bootstrap, prefix, {"projection": PORT})
    today = datetime.now(UTC).astimezone(ZoneInfo("Australia/Sydney")).date()
    try:
        await _measure(url, bootstrap, prefix, today, processes[0].pid)
    finally:
        await stop_services(processes)
        await drop_database(admin_url, url)
        await delete_topics_with_prefix(bootstrap, prefix)
    print(f"  (finished {datetime.now(UTC):%H:%M:%S})")


async def _measure(url: str, bootstrap: str, prefix: str, today: date, pid: int | None) -> None:
    small = [tenant(SMALL_WORKERS, seed, today) for seed in range(SMALL_TENANTS)]
    done = await project(url, bootstrap, prefix, [facts for facts, _ in small],
                         (e for _, events in small for e in events), 0)  # fmt: skip
    await _analyse(url)
    async with httpx.AsyncClient(timeout=120) as client:
        alone = await small_tenant_pages(Views(client, small[0][0]), "alone")
        big, events = tenant(WORKERS, 1000, today)
        await project(url, bootstrap, prefix, [big], events, done)
        await _analyse(url)
        await sizes(url)
        views = Views(client, big)
        health = await sample(lambda: _health(client))
        report("HTTP floor: GET /health of the projection process", health)
        async with await AsyncConnection.connect(url, autocommit=True) as conn:
            await big_tenant_pages(views, Floors(conn, big))
        await export(views, url, pid)
        shared = await small_tenant_pages(Views(client, small[0][0]), "beside the big one")
    for name, seconds in shared.items():
        print(
            f"  small tenant {name}: p95 {shared[name]:.1f} ms shared vs {alone[name]:.1f}"
            f" ms alone = {seconds / alone[name]:.2f}x"
        )
    await rebuild_every_tenant(url, bootstrap, prefix)


async def _health(client: httpx.AsyncClient) -> None:
    (await client.get(f"http://127.0.0.1:{PORT}/health")).raise_for_status()


async def _analyse(url: str) -> None:
    """ANALYZE what was just projected, as autovacuum would within the minute."""
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("ANALYZE")


if __name__ == "__main__":
    asyncio.run(run())
