"""A long outage, as an operator stopping a server would cause it: the six services run as
separate processes under load while Kafka is stopped for over a minute. Nothing answers 500,
nothing hangs, writes go on into the outboxes (the relays' gauges show the backlog), every
background task carries on by itself (no service is restarted), and every write that was
accepted reaches the views. Shorter outages of each server, with two instances of the busiest
services and exact counts, are `tests/chaos`'s.

These tests stop the native servers of `deploy/local` (`infra.py stop --only NAME`) and start
them again (`infra.py up --only NAME`), so they need that stack: `make test` uses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from urllib.parse import urlparse
from uuid import UUID

import httpx
import pytest

from credflow.services import SERVICES
from credflow_common.auth import PLATFORM_PERMISSION, issue_dev_token
from credflow_contracts.ids import uuid7
from tests.e2e.system import System, running_system
from tests.infrastructure import REPO, Infrastructure, temporary_database
from tests.polling import eventually

pytestmark = pytest.mark.e2e
LAUNCHER = REPO / "deploy" / "local" / "infra.py"
NATIVE_PORTS = {"postgres": 15432, "kafka": 19092, "minio": 19000}


def require_native_stack(infra: Infrastructure) -> None:
    ports = {
        "postgres": urlparse(infra.database_url).port,
        "kafka": int(infra.kafka_bootstrap_servers.rsplit(":", 1)[1]),
        "minio": urlparse(infra.s3_endpoint_url).port,
    }
    if ports != NATIVE_PORTS:
        pytest.fail(f"the outage tests stop deploy/local's servers; these are {ports}")


async def launcher(*args: str) -> None:
    await asyncio.to_thread(
        subprocess.run, [sys.executable, str(LAUNCHER), *args], check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


@contextlib.asynccontextmanager
async def stopped(server: str) -> AsyncIterator[None]:
    """`server` stopped for the block, and started again (and healthy) after it, whatever
    happened inside."""
    await launcher("stop", "--only", server)
    try:
        yield
    finally:
        await launcher("up", "--only", server)


def bearer(user: str, org: UUID, roles: list[str]) -> dict[str, str]:
    token = issue_dev_token(UUID(user), org, roles, ["users:manage"] if "admin" in roles else [])
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Load:
    """Writes and reads at a steady pace, each answer's status and time recorded."""

    system: System
    org: UUID
    worker: dict[str, str]
    type_id: str
    statuses: Counter[int] = field(default_factory=Counter)
    slowest_s: float = 0.0
    accepted: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, client: httpx.AsyncClient) -> None:
        org = f"organisations/{self.org}"
        urls = {
            "write": f"{self.system.url('submission')}/{org}/credentials",
            "views": f"{self.system.url('projection')}/{org}/credentials",
            "directory": f"{self.system.url('directory')}/{org}/credential-types",
        }
        body = {"credential_type_id": self.type_id, "issued_on": "2026-01-31"}
        for _ in range(10_000):  # bounded: ten rounds a second for at most a quarter of an hour
            if self.stop.is_set():
                return
            response = await self.timed(client.post(urls["write"], headers=self.worker, json=body))
            if response is not None and response.status_code == 201:
                self.accepted.append(response.json()["credential_id"])
            for read in ("views", "directory"):
                await self.timed(client.get(urls[read], headers=self.worker))
            await asyncio.sleep(0.1)

    async def timed(self, request: Awaitable[httpx.Response]) -> httpx.Response | None:
        """One request's answer, its status counted and its time kept (0: no answer)."""
        started = time.monotonic()
        try:
            response = await request
        except httpx.TimeoutException:
            self.statuses[0] += 1  # a hang: no answer within the client's timeout
            return None
        finally:
            self.slowest_s = max(self.slowest_s, time.monotonic() - started)
        self.statuses[response.status_code] += 1
        if response.status_code == 503:
            assert response.headers["Retry-After"].isdigit()
            assert response.headers["content-type"] == "application/problem+json"
        return response


@dataclass
class Rig:
    system: System
    client: httpx.AsyncClient
    org: UUID
    admin: dict[str, str]
    worker: dict[str, str]
    type_id: str

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.system.processes.items()}

    def alive(self) -> None:
        for name, process in self.system.processes.items():
            assert process.poll() is None, f"{name} exited (see {self.system.log_dir})"

    async def all_ready(self, within_s: float) -> None:
        async def ready() -> bool:
            for name in self.system.processes:
                response = await self.client.get(f"{self.system.url(name)}/ready")
                if response.status_code != 200:
                    return False
            return True

        await eventually(ready, timeout_s=within_s)

    async def metric(self, service: str, name: str) -> float:
        text = (await self.client.get(f"{self.system.url(service)}/metrics")).text
        return sum(
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith(name + "{") or line.startswith(name + " ")
        )  # fmt: skip


@pytest.fixture
async def rig(infra: Infrastructure) -> AsyncIterator[Rig]:
    require_native_stack(infra)
    unique = uuid.uuid4().hex[:12]
    async with (
        temporary_database(infra.database_url, f"outages_{unique}") as database_url,
        running_system(infra, database_url, f"o{unique}.", tuple(SERVICES)) as system,
        httpx.AsyncClient(timeout=30) as client,
    ):
        platform = issue_dev_token(uuid7(), UUID(int=0), [], [PLATFORM_PERMISSION])
        created = await client.post(
            f"{system.url('directory')}/organisations",
            json={"name": "Outages", "settings": {"validation_required": False},
                  "admin": {"email": f"ada@{unique}.test", "name": "Ada"}},
            headers={"Authorization": f"Bearer {platform}"},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        org = UUID(created.json()["organisation_id"])
        admin = bearer(created.json()["admin_user_id"], org, ["admin"])
        directory = f"{system.url('directory')}/organisations/{org}"
        kind = await client.post(f"{directory}/credential-types", headers=admin,
                                 json={"name": "Ticket", "expires": False})  # fmt: skip
        worker = await client.post(f"{directory}/users", headers=admin,
                                   json={"email": f"wes@{unique}.test", "name": "Wes"})  # fmt: skip
        rig = Rig(system, client, org, admin, bearer(worker.json()["user_id"], org, ["worker"]),
                  kind.json()["credential_type_id"])  # fmt: skip

        async def replicated() -> bool:  # the submission service knows the worker and the type
            response = await client.post(
                f"{system.url('submission')}/organisations/{org}/credentials", headers=rig.worker,
                json={"credential_type_id": rig.type_id, "issued_on": "2026-01-01"},
            )  # fmt: skip
            return response.status_code == 201

        await eventually(replicated, timeout_s=30)
        yield rig


async def test_kafka_stopped_for_a_minute_under_load(rig: Rig) -> None:
    pids = rig.pids()
    load = Load(rig.system, rig.org, rig.worker, rig.type_id)
    loads = [asyncio.create_task(load.run(rig.client)) for _ in range(2)]
    try:
        await asyncio.sleep(3)
        before = load.statuses[201]
        async with stopped("kafka"):
            await asyncio.sleep(20)
            # Writes go on into the outbox; the relay's gauges show the backlog growing.
            assert load.statuses[201] > before, "writes need no broker"
            assert await rig.metric("submission", "credflow_relay_pending") > 0
            assert await rig.metric("submission", "credflow_relay_oldest_pending_seconds") > 5
            await asyncio.sleep(45)
        await rig.all_ready(within_s=30)

        async def drained() -> bool:
            return await rig.metric("submission", "credflow_relay_pending") == 0

        await eventually(drained, timeout_s=30)
    finally:
        load.stop.set()
        await asyncio.gather(*loads)

    print(f"answers by status: {dict(load.statuses)}; slowest {load.slowest_s:.2f} s")
    assert set(load.statuses) <= {200, 201, 503}, load.statuses  # no 500, no other refusal
    assert load.statuses[0] == 0, f"no request hangs: {load.statuses}"
    assert load.slowest_s < 10, f"every answer comes within seconds: {load.slowest_s:.1f} s"
    rig.alive()
    assert rig.pids() == pids, "no service was restarted"

    views = f"{rig.system.url('projection')}/organisations/{rig.org}/credentials"

    async def all_in_views() -> bool:
        seen: set[str] = set()
        cursor = None
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = (await rig.client.get(views, headers=rig.admin, params=params)).json()
            seen |= {item["credential_id"] for item in page["items"]}
            if not (cursor := page["next_cursor"]):
                return set(load.accepted) <= seen

    await eventually(all_in_views, timeout_s=60)
