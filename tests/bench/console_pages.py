"""The console's pages, timed as a browser gets them (server time on loopback), each beside
the same data read straight from the views API with the same person's token, at `make run`'s
demo scale: the demo organisation (300 workers, over 700 credentials) and a queue of 60 items.

Pages: a worker's "My credentials" (profile, requirements, compliance), a credential page
(versions, reviews, audit, files), a manager's review queue, and a client viewer's dashboard,
workers list and company page. BENCH_PAGE_REQUESTS sets how
many times each is read (default 300).
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx

from credflow.demo import DEMO_ORG, create_demo
from credflow.demo_data import DemoUrls, load_demo_data
from credflow_contracts.topics import ALL_TOPICS
from tests.bench.event_runtime import drop_database, fresh_database
from tests.bench.processes import serve_services, stop_services
from tests.integration.runtime_support import create_topics, delete_topics_with_prefix

REQUESTS = int(os.environ.get("BENCH_PAGE_REQUESTS", "300"))
QUEUE_ITEMS = 60
PORTS = {"console": 18500, "directory": 18501, "submission": 18502, "review": 18503,
         "importer": 18504, "reminder": 18505, "projection": 18506}  # fmt: skip
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 256


def url(name: str) -> str:
    return f"http://127.0.0.1:{PORTS[name]}"


async def timed(call: Callable[[], Awaitable[httpx.Response]]) -> list[float]:
    for _ in range(20):  # warm up: connections, caches, the JIT of nothing
        (await call()).raise_for_status()
    samples = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = await call()
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return samples


def report(name: str, page: list[float], api: list[float]) -> None:
    cut, base = statistics.quantiles(page, n=100), statistics.quantiles(api, n=100)
    print(f"  {name:<34} p50 {cut[49]:6.1f} ms  p95 {cut[94]:6.1f} ms  p99 {cut[98]:6.1f} ms"
          f"   (views API p50 {base[49]:.1f} / p95 {base[94]:.1f} ms;"
          f" page/API p95 {cut[94] / base[94]:.1f}x)")  # fmt: skip


async def signed_in(name: str) -> httpx.AsyncClient:
    """A browser-like client (cookies) signed in through the development page."""
    client = httpx.AsyncClient(base_url=url("console"), timeout=30)
    page = (await client.get("/sign-in/as")).text
    match = re.search(
        r'name="csrf_token" value="([^"]+)">\s*<input type="hidden" name="user_id" value="'
        r'([^"]+)">\s*<input[^>]*>\s*<button[^>]*>\s*<strong>' + re.escape(name),
        page,
    )
    assert match, f"{name} is not on the sign-in page"
    response = await client.post(
        "/sign-in/as", data={"csrf_token": match[1], "user_id": match[2], "next": "/"}
    )
    assert response.status_code == 303, response.text
    return client


async def bench_pages(database: str, bootstrap: str, prefix: str) -> None:
    processes = await serve_services(
        database, bootstrap, prefix, PORTS, CREDFLOW_ENVIRONMENT="development",
        CREDFLOW_AUTH_JWKS_URL=url("console") + "/.well-known/jwks.json",
        CREDFLOW_CONSOLE_DEV_ORGANISATION_ID=str(DEMO_ORG),
    )  # fmt: skip
    try:
        demo = create_demo(url("directory"))
        urls = DemoUrls(url("directory"), url("importer"), url("review"), url("submission"))
        await asyncio.to_thread(load_demo_data, urls, demo, datetime.now(UTC).date(),
                                lambda _: None)  # fmt: skip
        org = f"/organisations/{DEMO_ORG}"
        async with httpx.AsyncClient(timeout=30) as api:
            admin = {"Authorization": f"Bearer {demo.token('admin')}"}
            workers = (await api.get(url("projection") + org
                                     + "/workers", params={"limit": 200},
                                     headers=admin)).json()["items"]  # fmt: skip
            managed = [w for w in workers if w["manager_id"] == demo.people["manager"]["user_id"]]
            licence = next(t for t in (await api.get(url("directory") + org + "/credential-types",
                                                     headers=admin)).json()["items"]
                           if t["name"] == "Driver's licence")  # fmt: skip
            for worker in managed[:QUEUE_ITEMS]:
                await api.post(url("submission") + org + "/credentials", headers=admin, data={
                    "data": f'{{"credential_type_id": "{licence["credential_type_id"]}",'
                            f' "holder_id": "{worker["user_id"]}", "issued_on": "2026-01-05"}}'},
                    files=[("files", ("licence.png", PNG, "image/png"))])  # fmt: skip
            manager_token = {"Authorization": f"Bearer {demo.token('manager')}"}
            for _ in range(300):
                queue = (await api.get(url("projection") + org + "/review-queue",
                                       headers=manager_token)).json()["items"]  # fmt: skip
                if len(queue) >= QUEUE_ITEMS:
                    break
                await asyncio.sleep(0.2)
            worker = managed[0]
            credentials = (
                await api.get(
                    url("projection") + org + "/credentials",
                    headers=admin,
                    params={"worker_id": worker["user_id"]},
                )
            ).json()["items"]
            credential_id = credentials[0]["credential_id"]
            worker_token = await signed_in(worker["name"])
            mia = await signed_in("Mia Manager")
            person_token = {"Authorization": f"Bearer {demo.token('manager')}"}
            print(
                f"  (the demo: {len(workers)}+ workers; Mia's queue: {len(queue)} items;"
                f" {worker['name']}: {len(credentials)} credentials)"
            )
            report(
                "my credentials (a worker)",
                await timed(lambda: worker_token.get("/credentials")),
                await timed(
                    lambda: api.get(
                        url("projection") + org + f"/workers/{worker['user_id']}",
                        headers=person_token,
                    )
                ),
            )
            report(
                "a credential page",
                await timed(lambda: worker_token.get(f"/credentials/{credential_id}")),
                await timed(
                    lambda: api.get(
                        url("projection") + org + f"/credentials/{credential_id}",
                        headers=person_token,
                    )
                ),
            )
            report(
                f"review queue ({len(queue)} items, a manager)",
                await timed(lambda: mia.get("/reviews")),
                await timed(
                    lambda: api.get(
                        url("projection") + org + "/review-queue",
                        params={"limit": 500},
                        headers=person_token,
                    )
                ),
            )
            casey = await signed_in("Casey Client")
            viewer = {"Authorization": f"Bearer {demo.token('client_viewer')}"}
            company = next(c for c in (await api.get(url("projection") + org + "/companies",
                                                     headers=viewer)).json()["items"]
                           if c["name"] == "Northwind Contracting")  # fmt: skip
            report(
                "dashboard (a client viewer)",
                await timed(lambda: casey.get("/dashboard")),
                await timed(lambda: api.get(url("projection") + org + "/summary", headers=viewer)),
            )
            report(
                "workers list (a client viewer)",
                await timed(lambda: casey.get("/network/workers")),
                await timed(
                    lambda: api.get(
                        url("projection") + org + "/workers", params={"limit": 50}, headers=viewer
                    )
                ),
            )
            report(
                "a company page (150 workers)",
                await timed(lambda: casey.get(f"/network/companies/{company['company_id']}")),
                await timed(
                    lambda: api.get(
                        url("projection") + org + f"/companies/{company['company_id']}/workers",
                        params={"limit": 50},
                        headers=viewer,
                    )
                ),
            )
            await casey.aclose()
            await worker_token.aclose()
            await mia.aclose()
    finally:
        await stop_services(processes)


async def run() -> None:
    print(f"== console pages (server time, {REQUESTS} reads each) ==")
    admin_url = os.environ["DATABASE_URL"]
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = f"benchc{uuid.uuid4().hex[:6]}."
    await create_topics(bootstrap, [prefix + t for t in ALL_TOPICS], partitions=6)
    database = await fresh_database(admin_url)
    try:
        await bench_pages(database, bootstrap, prefix)
    finally:
        await drop_database(admin_url, database)
        await delete_topics_with_prefix(bootstrap, prefix)
