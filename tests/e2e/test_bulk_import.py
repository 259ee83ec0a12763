"""Bulk import end to end, every service its own process (`credflow serve NAME`) on real
PostgreSQL and Kafka: 20,000 rows reach the worker view; and with the importer and the
submission service killed (SIGKILL) during finish and started again, there are still exactly
20,000 credentials, one per row."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest

from credflow.demo import DemoOrganisation, create_demo
from tests.bench.imports import ROWS, import_file
from tests.e2e.system import System, running_system
from tests.infrastructure import Infrastructure

pytestmark = pytest.mark.e2e
SERVICES = ("directory", "submission", "importer", "projection")


@pytest.fixture
async def system(infra: Infrastructure, database_url: str, unique: str) -> AsyncIterator[System]:
    async with running_system(infra, database_url, f"e{unique}.", SERVICES) as running:
        yield running


@dataclass
class Import:
    demo: DemoOrganisation
    import_id: str
    before: int  # credentials the demo organisation had already

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.demo.token('admin')}"}


async def projected(system: System, org: UUID) -> int:
    async with await psycopg.AsyncConnection.connect(system.database_url) as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM projection.credentials WHERE organisation_id = %s", (org,)
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0


async def uploaded(system: System) -> Import:
    """The demo organisation and a draft import of 20,000 valid rows for its workers."""
    demo = await asyncio.to_thread(create_demo, system.url("directory"))
    workers = [p["email"] for label, p in demo.people.items() if label.startswith("worker")]
    raw = import_file(workers)
    admin = {"Authorization": f"Bearer {demo.token('admin')}"}
    base = f"{system.url('importer')}/organisations/{demo.organisation_id}/imports"
    async with httpx.AsyncClient(timeout=60, headers=admin) as client:
        for _ in range(300):  # until the importer's replica has the demo's people and types
            response = await client.post(base, files={"file": ("rows.csv", raw, "text/csv")})
            assert response.status_code == 201, response.text
            if response.json()["valid_rows"] == ROWS:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(response.json()["problems"][:5])
    return Import(demo, response.json()["import_id"], await projected(system, demo.organisation_id))


async def import_state(system: System, job: Import) -> dict[str, Any]:
    url = (
        f"{system.url('importer')}/organisations/{job.demo.organisation_id}/imports/{job.import_id}"
    )
    async with httpx.AsyncClient(timeout=10, headers=job.admin) as client:
        response = await client.get(url)
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


async def finish(system: System, job: Import) -> None:
    url = (
        f"{system.url('importer')}/organisations/{job.demo.organisation_id}"
        f"/imports/{job.import_id}/finish"
    )
    async with httpx.AsyncClient(timeout=30, headers=job.admin) as client:
        response = await client.post(url)
    assert response.status_code == 202, response.text


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def all_visible_and_completed(system: System, job: Import) -> None:
    org = job.demo.organisation_id

    async def done() -> bool:
        return (await projected(system, org)) - job.before >= ROWS and (
            await import_state(system, job)
        )["status"] == "completed"

    await until(done, 300, "every row in the worker view and the import completed")


def credentials_of(system: System, import_id: str) -> tuple[int, int]:
    with psycopg.connect(system.database_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT stream_id) FROM submission.events"
            " WHERE event_type LIKE 'credflow.credential.submitted.%%'"
            " AND data->>'import_id' = %s",
            (import_id,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def test_twenty_thousand_rows_reach_the_worker_view(system: System) -> None:
    job = await uploaded(system)
    await finish(system, job)
    await all_visible_and_completed(system, job)
    assert credentials_of(system, job.import_id) == (ROWS, ROWS)
    assert await projected(system, job.demo.organisation_id) - job.before == ROWS
    state = await import_state(system, job)
    assert state["progress"] == {"rows_sent": ROWS, "rows_applied": ROWS, "rows_refused": 0}


async def test_killing_the_importer_and_submission_during_finish_still_gives_one_credential_per_row(
    system: System,
) -> None:
    job = await uploaded(system)
    await finish(system, job)
    org = job.demo.organisation_id

    async def some_sent() -> bool:
        return bool((await import_state(system, job))["progress"]["rows_sent"] >= 3000)

    await until(some_sent, 120, "the importer to send a few chunks")
    system.kill("importer")  # mid-finish: some chunks sent, the rest not

    async def some_applied() -> bool:
        return (await projected(system, org)) - job.before >= 1000

    await until(some_applied, 120, "the submission service to apply some commands")
    system.kill("submission")  # mid-batch, with commands still to apply
    assert (await projected(system, org)) - job.before < ROWS, "the kills came too late"

    system.start("importer")
    system.start("submission")
    await system.ready("importer", "submission")
    await finish(system, job)  # pressed again after the crash: changes nothing
    await all_visible_and_completed(system, job)
    assert credentials_of(system, job.import_id) == (ROWS, ROWS)
    await asyncio.sleep(2)  # anything still in flight would arrive now
    assert await projected(system, org) - job.before == ROWS


async def test_the_cli_shows_the_report_then_finishes_with_progress(
    system: System, tmp_path: Any
) -> None:
    demo = await asyncio.to_thread(create_demo, system.url("directory"))
    workers = [p["email"] for label, p in demo.people.items() if label.startswith("worker")]
    rows = import_file(workers).decode().splitlines()[:31]  # the header and 30 rows
    rows.append(f"{workers[0]},First aid certificate,31/02/2026,,,,")  # row 32: no such day
    csv_file = tmp_path / "crew.csv"
    csv_file.write_text("\n".join(rows) + "\n")
    admin = demo.people["admin"]["email"]

    def cli(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "credflow", "import", str(csv_file),
                   "--org", str(demo.organisation_id), "--as", admin, *extra]  # fmt: skip
        return subprocess.run(
            command, env=system.env | {"COLUMNS": "200"}, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip

    for _ in range(100):  # until the importer's replica knows the demo's people
        refused = await asyncio.to_thread(cli)
        if "30 valid" in refused.stdout:
            break
        await asyncio.sleep(0.3)
    assert refused.returncode == 1
    assert "31 rows, 30 valid, 1 with problems" in refused.stdout
    assert "invalid_date" in refused.stdout
    assert "--skip-invalid" in refused.stdout

    done = await asyncio.to_thread(cli, "--skip-invalid")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rows applied" in done.stdout
    assert "completed: 30 credentials" in done.stdout
