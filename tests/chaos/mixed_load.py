"""The mixed load every chaos scenario runs under, through the public HTTP APIs only:

- a bulk import of `CHAOS_ROWS` rows (20,000 by default) for three workers;
- Ella submitting electrical licences (review required, expiring in five days so a reminder is
  due at once), every fourth with a photo (object storage);
- Sam, her manager, validating them from his review queue;
- reads of the worker view and the directory.

Every answer is recorded with its time, so a scenario can tell what users saw during its fault.
A connection refused by one instance of a doubled service is tried on the other, as a load
balancer does (the request never reached a server, so that is safe); any other failure counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

import httpx

from credflow.demo import DemoOrganisation, create_demo
from credflow_importer.csvfile import MAX_ROWS
from tests.e2e.system import System
from tests.e2e.test_bulk_import import Import, finish, projected

BOUNDED = os.environ.get("CHAOS_BOUNDED") == "1"  # make test's form: smaller, shorter
ROWS = int(os.environ.get("CHAOS_ROWS", "2000" if BOUNDED else str(MAX_ROWS)))
DOUBLED = ("submission", "review", "projection")
SECOND_INSTANCES = tuple(f"{name}@2" for name in DOUBLED)
SERVICES = ("directory", "importer", "reminder", *DOUBLED, *SECOND_INSTANCES)
ENV = {  # reminders looked for every second; an import's reviewers mailed 5 s after its rows
    "CREDFLOW_REMINDER_INTERVAL_S": "1",
    "CREDFLOW_REVIEW_IMPORT_MAIL_DELAY_S": "5",
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 256
IMPORTED_FOR = ("worker", "worker_north_1", "worker_north_2")  # managed by Mia
HOLDER, REVIEWER = "worker_south_0", "manager_south"  # Ella, and Sam her manager


def import_file(emails: list[str], rows: int) -> bytes:
    """`rows` valid first aid certificates, none expiring for years (no reminder is due)."""
    lines = ["email,credential_type,issued_on,expires_on,certification_number,issuer,notes"]
    for index in range(rows):
        day, month = 1 + index % 28, 1 + index % 11
        email, issued, expires = (
            emails[index % len(emails)],
            f"{day:02}/{month:02}/2025",
            f"{day:02}/{month:02}/2030",
        )
        lines.append(f"{email},First aid certificate,{issued},{expires},CH-{index:06},"
                     f"St John Ambulance,row {index}")  # fmt: skip
    return ("\n".join(lines) + "\n").encode()


@dataclass(frozen=True)
class Answer:
    at: float  # time.monotonic() when the request was sent
    what: str
    status: int  # 0: no answer in time; -1: every instance refused the connection
    seconds: float


@dataclass
class MixedLoad:
    system: System
    demo: DemoOrganisation
    client: httpx.AsyncClient
    electrical_id: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    answers: list[Answer] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)  # credentials Ella's 201s created
    decided: dict[str, str] = field(default_factory=dict)  # review id -> credential id (200s)
    job: Import | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    retried: int = 0  # requests cut off by a killed instance, sent again
    _turn: count[int] = field(default_factory=count)

    @property
    def org(self) -> str:
        return str(self.demo.organisation_id)

    def as_(self, label: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.demo.token(label)}"}

    def email(self, label: str) -> str:
        return str(self.demo.people[label]["email"])

    def user_id(self, label: str) -> str:
        return str(self.demo.people[label]["user_id"])

    async def call(self, what: str, service: str, method: str, path: str,
                   **kwargs: Any) -> httpx.Response | None:  # fmt: skip
        """One request to `service` (to its instances in turn), its answer recorded."""
        names = [service, f"{service}@2"] if service in DOUBLED else [service]
        first, sent_at = next(self._turn), time.monotonic()
        status, response = -1, None
        for name in (names[(first + i) % len(names)] for i in range(len(names))):
            try:
                response = await self.client.request(method, self.system.url(name) + path,
                                                     **kwargs)  # fmt: skip
            except httpx.ConnectError:
                continue  # that instance is down: the next one, as a load balancer would
            except (httpx.RemoteProtocolError, httpx.ReadError):
                self.retried += 1  # killed while answering: again, on the next instance (every
                continue  # request here is a read or carries an Idempotency-Key)
            except httpx.TimeoutException:
                status = 0
                break
            status = response.status_code
            break
        self.answers.append(Answer(sent_at, what, status, time.monotonic() - sent_at))
        if response is not None and status == 503:  # a problem telling when to try again
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["Retry-After"].isdigit()
            assert "unavailable" in response.json()["detail"]
        return response if status > 0 else None

    async def submit_forever(self) -> None:
        path = f"/organisations/{self.org}/credentials"
        fields = {"credential_type_id": self.electrical_id, "issued_on": "2026-01-05",
                  "expires_on": (date.today() + timedelta(days=5)).isoformat()}  # fmt: skip
        for n in count(1):
            if self.stop.is_set():
                return
            ella = self.as_(HOLDER) | {"Idempotency-Key": str(uuid.uuid4())}
            if n % 4 == 0:
                response = await self.call(
                    "upload", "submission", "POST", path, headers=ella,
                    data={"data": json.dumps(fields)},
                    files=[("files", ("licence.png", PNG, "image/png"))],
                )  # fmt: skip
            else:
                response = await self.call("submit", "submission", "POST", path, headers=ella,
                                           json=fields)  # fmt: skip
            if response is not None and response.status_code == 201:
                self.accepted.add(response.json()["credential_id"])
            await asyncio.sleep(0.1)

    async def review_forever(self) -> None:
        queue = f"/organisations/{self.org}/reviews"
        sam = self.as_(REVIEWER)
        while not self.stop.is_set():
            response = await self.call("queue", "review", "GET", queue, headers=sam,
                                       params={"limit": 20})  # fmt: skip
            items = response.json()["items"] if response and response.status_code == 200 else []
            for item in items:
                if self.stop.is_set():
                    return
                decision = await self.call(
                    "decide", "review", "POST", f"{queue}/{item['review_id']}/validate",
                    headers=sam | {"Idempotency-Key": str(uuid.uuid4())},
                    json={"comment": "Checked"},
                )  # fmt: skip
                if decision is not None and decision.status_code == 200:
                    self.decided[item["review_id"]] = item["credential_id"]
            await asyncio.sleep(0.3)

    async def read_forever(self) -> None:
        ella, org = self.as_(HOLDER), f"/organisations/{self.org}"
        while not self.stop.is_set():
            await self.call("views", "projection", "GET", f"{org}/credentials", headers=ella)
            await self.call("directory", "directory", "GET", f"{org}/credential-types",
                            headers=ella)  # fmt: skip
            await asyncio.sleep(0.2)

    async def start_import(self) -> Import:
        """Upload the import (once the importer knows the workers) and press finish."""
        raw = import_file([self.email(label) for label in IMPORTED_FOR], ROWS)
        path = f"/organisations/{self.org}/imports"
        problems: list[Any] = []
        for _ in range(300):
            response = await self.call("upload import", "importer", "POST", path,
                                       headers=self.as_("admin"),
                                       files={"file": ("rows.csv", raw, "text/csv")})  # fmt: skip
            assert response is not None, "the importer did not answer"
            assert response.status_code == 201, response.text
            if response.json()["valid_rows"] == ROWS:
                break
            problems = response.json()["problems"][:5]
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(problems)
        before = await projected(self.system, self.demo.organisation_id)
        self.job = Import(self.demo, response.json()["import_id"], before)
        await finish(self.system, self.job)
        return self.job

    def statuses(
        self, since: float = 0.0, until: float = float("inf"), what: str | None = None
    ) -> Counter[int]:
        """The answers' statuses, for requests sent in [since, until) (of one kind)."""
        return Counter(a.status for a in self.answers
                       if since <= a.at < until and what in (None, a.what))  # fmt: skip

    @property
    def slowest_s(self) -> float:
        return max(answer.seconds for answer in self.answers)

    def first_success_after(self, moment: float, what: str = "submit") -> float | None:
        return next((a.at - moment for a in self.answers
                     if a.at >= moment and a.what == what and a.status == 201), None)  # fmt: skip


async def demo_organisation(system: System) -> tuple[DemoOrganisation, str]:
    """The demo organisation, and the id of its electrical licence type."""
    demo = await asyncio.to_thread(create_demo, system.url("directory"))
    admin = {"Authorization": f"Bearer {demo.token('admin')}"}
    url = f"{system.url('directory')}/organisations/{demo.organisation_id}/credential-types"
    async with httpx.AsyncClient(headers=admin) as client:
        types = (await client.get(url)).json()["items"]
    return demo, next(t["credential_type_id"] for t in types if t["name"] == "Electrical licence")


@contextlib.asynccontextmanager
async def mixed_load(
    system: System, demo: DemoOrganisation, electrical_id: str
) -> AsyncIterator[MixedLoad]:
    """The load running (the import pressed), stopped when the block ends."""
    async with httpx.AsyncClient(timeout=30) as client:
        load = MixedLoad(system, demo, client, electrical_id)
        tasks = [asyncio.create_task(loop()) for loop in
                 (load.submit_forever, load.review_forever, load.read_forever)]  # fmt: skip
        try:
            await load.start_import()
            yield load
        finally:
            load.stop.set()
            await asyncio.gather(*tasks)
