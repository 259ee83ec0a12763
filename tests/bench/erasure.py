"""Benchmark of erasure (issue 33): a person with 50 credentials, each with a file, erased
while the system is idle (the baseline), then another one while it works on: an import of
20,000 rows being finished and a manager deciding review items one after another. Directory,
submission, review, importer, reminder and projection each run as their own process; the
time is from the erasure's request to its completion (every service has reported: the files
and their object versions removed, mails and reminders deleted). Target: within 60 s."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from credflow.demo import DemoOrganisation, create_demo
from credflow_common.auth import issue_dev_token
from credflow_contracts.topics import ALL_TOPICS
from tests.bench.event_runtime import drop_database, fresh_database
from tests.bench.imports import ROWS, import_file, seconds_line
from tests.bench.processes import CpuMeter, serve_services, stop_services
from tests.integration.runtime_support import create_topics, delete_topics_with_prefix

CREDENTIALS = 50
TARGET_S = 60
PORTS = {"directory": 18501, "submission": 18502, "review": 18503, "importer": 18504,
         "reminder": 18505, "projection": 18506}  # fmt: skip
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048
ERASE = ["privacy:erase", "users:manage"]


def url(service: str, org: uuid.UUID, path: str) -> str:
    return f"http://127.0.0.1:{PORTS[service]}/organisations/{org}{path}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def person_with_credentials(
    client: httpx.AsyncClient, demo: DemoOrganisation, name: str, type_id: str
) -> str:
    """A worker holding `CREDENTIALS` credentials with a file each (added by the admin)."""
    org, admin = demo.organisation_id, bearer(demo.token("admin"))
    email = f"{name.lower().replace(' ', '.')}.{uuid.uuid4().hex[:6]}@demo.credflow.test"
    person = {"email": email, "name": name, "roles": ["worker"]}
    created = await client.post(url("directory", org, "/users"), headers=admin, json=person)
    created.raise_for_status()
    holder = str(created.json()["user_id"])
    for index in range(CREDENTIALS):
        fields = {"credential_type_id": type_id, "holder_id": holder,
                  "issued_on": f"2026-0{1 + index % 9}-1{index % 10}",
                  "certification": {"number": f"FA-{index:04}"}}  # fmt: skip
        for _ in range(300):  # until the submission service's replica knows the new person
            added = await client.post(
                url("submission", org, "/credentials"), headers=admin,
                data={"data": json.dumps(fields)},
                files=[("files", (f"card-{index}.png", PNG, "image/png"))],
            )  # fmt: skip
            if added.status_code == 201:
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"a credential was refused: {added.text[:300]}")
    return holder


async def erase(client: httpx.AsyncClient, org: uuid.UUID, eraser: dict[str, str],
                holder: str) -> tuple[float, dict[str, Any]]:  # fmt: skip
    started = time.perf_counter()
    asked = await client.post(url("directory", org, f"/users/{holder}/erasure"), headers=eraser)
    asked.raise_for_status()
    path = url("directory", org, f"/erasures/{asked.json()['erasure_id']}")
    while time.perf_counter() - started < 600:
        found = (await client.get(path, headers=eraser)).json()
        if found["status"] == "completed":
            return time.perf_counter() - started, found["receipt"]
        await asyncio.sleep(0.1)
    raise RuntimeError("the erasure never completed")


async def decide_reviews(
    client: httpx.AsyncClient, org: uuid.UUID, manager: dict[str, str], stop: asyncio.Event,
    decided: list[float],
) -> None:  # fmt: skip
    """A manager validating review items one after another (the time of each decision)."""
    while not stop.is_set():
        items = (await client.get(url("review", org, "/reviews"), headers=manager)).json()
        if not items.get("items"):
            await asyncio.sleep(0.2)
            continue
        answer = await client.post(
            url("review", org, f"/reviews/{items['items'][0]['review_id']}/validate"),
            headers=manager, json={},
        )  # fmt: skip
        if answer.status_code == 200:
            decided.append(time.perf_counter())


async def rows_applied(client: httpx.AsyncClient, path: str, admin: dict[str, str]) -> int:
    progress = (await client.get(path, headers=admin)).json()["progress"]
    return int(progress["rows_applied"])


async def licences_to_review(client: httpx.AsyncClient, demo: DemoOrganisation,
                             type_id: str, count: int) -> None:  # fmt: skip
    """Licences of the manager's workers, waiting for her review."""
    workers = [demo.people[label]["user_id"] for label in ("worker", "worker_north_1",
                                                           "worker_north_2")]  # fmt: skip
    admin = bearer(demo.token("admin"))
    for index in range(count):
        fields = {"credential_type_id": type_id, "holder_id": workers[index % 3],
                  "issued_on": "2026-03-01"}  # fmt: skip
        added = await client.post(url("submission", demo.organisation_id, "/credentials"),
                                  headers=admin, data={"data": json.dumps(fields)},
                                  files=[("files", ("licence.png", PNG, "image/png"))])  # fmt: skip
        added.raise_for_status()


async def bench(database_url: str, bootstrap: str, prefix: str) -> None:
    processes = await serve_services(database_url, bootstrap, prefix, PORTS)
    try:
        directory = f"http://127.0.0.1:{PORTS['directory']}"
        demo = await asyncio.to_thread(create_demo, directory)
        org = demo.organisation_id
        async with httpx.AsyncClient(timeout=120) as client:
            admin = bearer(demo.token("admin"))
            eraser_user = await client.post(url("directory", org, "/users"), headers=admin, json={
                "email": "erin.eraser@demo.credflow.test", "name": "Erin Eraser",
                "roles": ["admin"], "permissions": ERASE})  # fmt: skip
            eraser_user.raise_for_status()
            eraser = bearer(issue_dev_token(uuid.UUID(eraser_user.json()["user_id"]), org,
                                            ["admin"], ERASE))  # fmt: skip
            types = (await client.get(url("directory", org, "/credential-types"),
                                      headers=admin)).json()["items"]  # fmt: skip
            by_name = {t["name"]: t["credential_type_id"] for t in types}
            first_aid, licence = by_name["First aid certificate"], by_name["Driver's licence"]
            idle_person = await person_with_credentials(client, demo, "Pat Idle", first_aid)
            busy_person = await person_with_credentials(client, demo, "Quinn Busy", first_aid)
            await licences_to_review(client, demo, licence, 60)

            idle_s, idle_receipt = await erase(client, org, eraser, idle_person)
            files = {d["service"]: d["counts"] for d in idle_receipt["deleted"]}["submission"]
            assert files["files"] == CREDENTIALS, files
            seconds_line(f"erase a person with {CREDENTIALS} credentials and files (idle)", idle_s)

            workers = [p["email"] for label, p in demo.people.items()
                       if label.startswith("worker")]  # fmt: skip
            raw = import_file(workers)
            importer = f"{url('importer', org, '/imports')}"
            uploaded = await client.post(importer, headers=admin,
                                         files={"file": ("b.csv", raw, "text/csv")})  # fmt: skip
            uploaded.raise_for_status()
            assert uploaded.json()["valid_rows"] == ROWS, uploaded.json()["problems"][:3]
            import_id = uploaded.json()["import_id"]
            meter = CpuMeter(dict(zip(PORTS, processes, strict=True)))
            stop, decided = asyncio.Event(), list[float]()
            manager = bearer(demo.token("manager"))
            deciding = asyncio.create_task(decide_reviews(client, org, manager, stop, decided))
            finished = await client.post(f"{importer}/{import_id}/finish", headers=admin)
            finished.raise_for_status()
            job = f"{importer}/{import_id}"
            # the import in full swing and the manager deciding (both in other processes)
            while not decided or await rows_applied(client, job, admin) < 2_000:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            applied_before, decided_before = await rows_applied(client, job, admin), len(decided)
            meter.start()
            busy_s, busy_receipt = await erase(client, org, eraser, busy_person)
            meter.stop()
            applied = await rows_applied(client, job, admin) - applied_before
            during = len(decided) - decided_before
            stop.set()
            await deciding
        files = {d["service"]: d["counts"] for d in busy_receipt["deleted"]}["submission"]
        assert files["files"] == CREDENTIALS, files
        seconds_line(f"erase a person with {CREDENTIALS} credentials and files, during an import"
                     f" of {ROWS:,} rows and reviews", busy_s)  # fmt: skip
        print(f"    {busy_s / idle_s:.1f}x the idle erasure")
        print(
            f"    meanwhile: {applied:,} import rows applied, {during} review items decided;"
            f" target {TARGET_S} s: {'met' if busy_s <= TARGET_S else 'MISSED'}"
        )
        print(f"    {meter.line()}")
    finally:
        await stop_services(processes)


async def run() -> None:
    print(f"== erasure ({CREDENTIALS} credentials with files) ==")
    admin_url = os.environ["DATABASE_URL"]
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = f"benche{uuid.uuid4().hex[:6]}."
    await create_topics(bootstrap, [prefix + t for t in ALL_TOPICS], partitions=6)
    database_url = await fresh_database(admin_url)
    try:
        await bench(database_url, bootstrap, prefix)
    finally:
        await drop_database(admin_url, database_url)
        await delete_topics_with_prefix(bootstrap, prefix)
    print(f"  (finished {datetime.now(UTC):%H:%M:%S})")


if __name__ == "__main__":
    asyncio.run(run())
