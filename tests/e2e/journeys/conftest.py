"""Every journey runs against one system: the six services as separate processes, one database,
one topic prefix, and an outside subscriber reading the public topics. Each journey creates its
own organisation through the public API, so journeys cannot see each other's data.

Journeys act only through the services' HTTP APIs and read only those APIs, the SMTP sink's mail
API and Kafka (through the subscriber): nothing here reads a service's tables.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx
import pytest

from credflow.services import SERVICES
from credflow_common.auth import PLATFORM_PERMISSION, issue_dev_token
from credflow_contracts.ids import uuid7
from tests.e2e.journeys.subscriber import Subscriber
from tests.e2e.system import System, running_system
from tests.infrastructure import Infrastructure, temporary_database
from tests.polling import eventually

pytestmark = pytest.mark.e2e


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 256
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def with_file(fields: dict[str, Any], name: str, content: bytes) -> dict[str, Any]:
    """A credential's fields as the multipart `data` part, with one file (PNG or PDF)."""
    content_type = "application/pdf" if content.startswith(b"%PDF-") else "image/png"
    return {
        "data": {"data": json.dumps(fields)},
        "files": [("files", (name, content, content_type))],
    }


@dataclass
class Person:
    user_id: str
    name: str
    email: str
    roles: list[str]
    organisation_id: UUID
    permissions: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        token = issue_dev_token(
            UUID(self.user_id), self.organisation_id, self.roles, self.permissions, name=self.name
        )
        return {"Authorization": f"Bearer {token}"}


class ApiError(AssertionError):
    pass


@dataclass
class Tenant:
    """One organisation, driven through the public HTTP APIs of `system`."""

    system: System
    id: UUID
    admin: Person
    client: httpx.AsyncClient
    domain: str

    def url(self, service: str, path: str) -> str:
        return f"{self.system.url(service)}/organisations/{self.id}{path}"

    async def call(
        self, method: str, service: str, path: str, as_: Person, expect: int = 200, **kwargs: Any
    ) -> Any:
        response = await self.client.request(
            method, self.url(service, path), headers=as_.headers, **kwargs
        )
        if response.status_code != expect:
            raise ApiError(f"{method} {service}{path} -> {response.status_code}: {response.text}")
        return response.json() if response.content else None

    async def get(self, service: str, path: str, as_: Person, **params: Any) -> Any:
        return await self.call("GET", service, path, as_, params=params)

    async def post(
        self, service: str, path: str, as_: Person, expect: int = 201, **json: Any
    ) -> Any:
        return await self.call("POST", service, path, as_, expect, json=json)

    async def accepted(
        self, method: str, service: str, path: str, as_: Person, expect: int = 201, **kwargs: Any
    ) -> Any:
        """`call`, repeated while the service has not yet heard of a person or type the
        directory just created (its replica follows the directory's events). A user of the
        API sees the same: a 404 or 422 naming the unknown reference, then success."""
        result: list[Any] = []

        async def went_through() -> bool:
            try:
                result.append(await self.call(method, service, path, as_, expect, **kwargs))
            except ApiError as exc:
                if " -> 404" not in str(exc) and " -> 422" not in str(exc):
                    raise
                return False
            return True

        await eventually(went_through, timeout_s=30)
        return result[-1]

    async def view(self, path: str, as_: Person, position: str | None = None, **params: Any) -> Any:
        """A projection view; with `position`, once the view includes that write."""
        if position is not None:
            params["min_position"] = position
        response = await self.client.get(
            self.url("projection", path), headers=as_.headers, params=params
        )
        if response.status_code != 200:
            raise ApiError(f"GET projection{path} -> {response.status_code}: {response.text}")
        if position is not None:
            assert response.headers["Projection-Caught-Up"] == "true"
        return response.json()

    async def view_when(
        self, path: str, as_: Person, ready: Callable[[Any], bool], **params: Any
    ) -> Any:
        """A view, read again until `ready` holds: for what another service adds after the
        write (the review service accepts a version whose type needs no validation)."""
        seen: list[Any] = []

        async def arrived() -> bool:
            seen.append(await self.view(path, as_, **params))
            return ready(seen[-1])

        await eventually(arrived, timeout_s=30)
        return seen[-1]

    async def person(self, name: str, roles: list[str], **fields: Any) -> Person:
        email = f"{name.lower().replace(' ', '.')}@{self.domain}"
        body = await self.post(
            "directory", "/users", self.admin, email=email, name=name, roles=roles, **fields
        )
        return Person(body["user_id"], name, email, roles, self.id, body.get("permissions", []))

    async def mails_to(self, person: Person) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"{self.system.env['MAIL_API_URL']}/api/v1/search",
            params={"query": f"to:{person.email}", "limit": 1000},
        )
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    async def mail_subjects(self, person: Person, count: int) -> list[str]:
        """The sorted subjects of the mails `person` got, once there are `count` of them."""
        found: list[str] = []

        async def arrived() -> bool:
            found[:] = sorted(m["Subject"] for m in await self.mails_to(person))
            return len(found) >= count

        await eventually(arrived, timeout_s=60)
        return found

    async def mail_text(self, message: dict[str, Any]) -> str:
        """The plain-text body of a message `mails_to` listed."""
        response = await self.client.get(
            f"{self.system.env['MAIL_API_URL']}/api/v1/message/{message['ID']}"
        )
        text: str = response.json()["Text"]
        return text


@dataclass
class Journeys:
    system: System
    subscriber: Subscriber
    client: httpx.AsyncClient
    tenants: list[Tenant] = field(default_factory=list)

    async def organisation(self, name: str, **settings: Any) -> Tenant:
        platform = issue_dev_token(uuid7(), UUID(int=0), [], [PLATFORM_PERMISSION])
        domain = f"{name.lower().replace(' ', '')}-{uuid.uuid4().hex[:6]}.test"
        response = await self.client.post(
            f"{self.system.url('directory')}/organisations",
            json={
                "name": name,
                "settings": {"time_zone": "UTC", **settings},
                "admin": {"email": f"ada.admin@{domain}", "name": "Ada Admin"},
            },
            headers={"Authorization": f"Bearer {platform}"},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        org = UUID(body["organisation_id"])
        admin = Person(
            body["admin_user_id"], "Ada Admin", f"ada.admin@{domain}", ["admin"], org,
            ["users:manage"],
        )  # fmt: skip
        tenant = Tenant(self.system, org, admin, self.client, domain)
        self.tenants.append(tenant)
        return tenant


@pytest.fixture(scope="package")
async def journeys(infra: Infrastructure) -> AsyncIterator[Journeys]:
    unique = uuid.uuid4().hex[:12]
    prefix = f"j{unique}."
    async with (
        temporary_database(infra.database_url, f"journeys_{unique}") as database_url,
        running_system(
            infra, database_url, prefix, tuple(SERVICES),
            CREDFLOW_REMINDER_INTERVAL_S="0.5", MAIL_API_URL=infra.mail_api_url,
        ) as system,
        httpx.AsyncClient(timeout=30) as client,
    ):  # fmt: skip
        subscriber = Subscriber(infra.kafka_bootstrap_servers, prefix)
        reading = asyncio.create_task(subscriber.run())
        try:
            yield Journeys(system, subscriber, client)
        finally:
            subscriber.stop()
            await reading
