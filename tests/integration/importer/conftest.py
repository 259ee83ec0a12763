"""Directory, submission, review, importer and projection in-process on real PostgreSQL, Kafka
and MinIO, sharing a topic prefix per test; an organisation with people and types to import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest

from credflow_common.positions import wait_until_applied
from credflow_common.service import ServiceContext
from credflow_common.settings import RuntimeSettings
from credflow_contracts.topics import ALL_TOPICS
from credflow_importer.app import DEFINITION as IMPORTER_SERVICE
from credflow_projection.app import definition as projection_service
from tests.infrastructure import Infrastructure
from tests.integration.directory.conftest import Org
from tests.integration.review.conftest import Services, as_user, running_services
from tests.integration.runtime_support import create_topics


@dataclass
class ImportStack:
    services: Services
    importer: httpx.AsyncClient
    importer_context: ServiceContext
    views: httpx.AsyncClient
    views_context: ServiceContext

    async def replicated(self, body: dict[str, Any]) -> None:
        await self.services.replicated(body)
        assert await wait_until_applied(
            self.importer_context.pool, "importer.directory-replica", UUID(body["position"]), 30
        )

    async def post(self, org: Org, path: str, **body: Any) -> dict[str, Any]:
        result = await self.services.post(org, path, **body)
        await self.replicated(result)
        return result

    async def upload(
        self, org: Org, raw: bytes, as_: dict[str, str] | None = None, expect: int = 201,
        file_name: str = "people.csv",
    ) -> dict[str, Any]:  # fmt: skip
        response = await self.importer.post(
            f"/organisations/{org.id}/imports",
            files={"file": (file_name, raw, "text/csv")},
            headers=as_ or org.admin,
        )
        assert response.status_code == expect, response.text
        body: dict[str, Any] = response.json()
        return body

    async def call(
        self, method: str, org: Org, path: str, expect: int = 200,
        as_: dict[str, str] | None = None, **kwargs: Any,
    ) -> dict[str, Any]:  # fmt: skip
        response = await self.importer.request(
            method, f"/organisations/{org.id}/imports{path}", headers=as_ or org.admin, **kwargs
        )
        assert response.status_code == expect, response.text
        body: dict[str, Any] = response.json()
        return body


@dataclass
class ImportOrg:
    org: Org
    people: dict[str, dict[str, Any]]
    types: dict[str, str]

    def as_(self, name: str) -> dict[str, str]:
        return as_user(self.org, self.people[name])


async def build_import_org(stack: ImportStack, name: str) -> ImportOrg:
    """Jo and Sam (workers), Old (deactivated), Wes (worker, date format MM/DD/YYYY); types
    Electrical licence (reviewed, expires, no default validity), First aid (not reviewed,
    36-month default validity), White card (never expires), Old ticket (archived), Gas licence
    (not reviewed, a file required)."""
    services = stack.services
    org = await services.org(name)
    directory = services.directory
    kinds: dict[str, dict[str, Any]] = {
        "jo": {"roles": ["worker"]},
        "sam": {"roles": ["worker"]},
        "old": {"roles": ["worker"]},
        "wes": {"roles": ["worker", "manager"], "date_format": "MM/DD/YYYY"},
    }
    people = {
        label: await directory.create_user(org, f"{label}@{name.lower()}.test", **fields)
        for label, fields in kinds.items()
    }
    response = await directory.client.post(
        org.url(f"/users/{people['old']['user_id']}/deactivate"), headers=org.admin
    )
    assert response.status_code == 200, response.text
    await stack.replicated(response.json())
    type_fields: dict[str, dict[str, Any]] = {
        "electrical": {"name": "Electrical licence", "validation_required": True},
        "first_aid": {
            "name": "First aid", "validation_required": False, "default_validity_months": 36,
        },
        "white_card": {"name": "White card", "expires": False, "validation_required": False},
        "old_ticket": {"name": "Old ticket", "validation_required": False},
        "gas": {
            "name": "Gas licence", "validation_required": False, "media_required": True,
            "default_validity_months": 24,
        },
    }  # fmt: skip
    types = {}
    for label, fields in type_fields.items():
        types[label] = str((await stack.post(org, "/credential-types", **fields))[
            "credential_type_id"
        ])  # fmt: skip
    response = await directory.client.post(
        org.url(f"/credential-types/{types['old_ticket']}/archive"), headers=org.admin
    )
    assert response.status_code == 200, response.text
    await stack.replicated(response.json())
    return ImportOrg(org, people, types)


@pytest.fixture
async def stack(
    infra: Infrastructure, database_url: str, topic_prefix: str
) -> AsyncIterator[ImportStack]:
    await create_topics(infra.kafka_bootstrap_servers, [topic_prefix + t for t in ALL_TOPICS])
    runtime = RuntimeSettings(topic_prefix=topic_prefix, min_position_wait_s=20)
    async with running_services(
        infra, database_url, runtime, IMPORTER_SERVICE, projection_service()
    ) as (services, [importer, views], [importer_app, views_app]):
        yield ImportStack(
            services,
            importer,
            importer_app.state.context,
            views,
            views_app.state.context,
        )
