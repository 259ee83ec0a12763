"""The directory service in-process (its lifespan runs: migrations, pool, relay) against real
PostgreSQL and Kafka, reached through HTTP, with a topic prefix per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest

from credflow_common.auth import PLATFORM_PERMISSION, issue_dev_token
from credflow_common.service import create_app
from credflow_common.settings import InfraSettings, RuntimeSettings
from credflow_contracts.ids import uuid7
from credflow_contracts.topics import DIRECTORY, ERASURES
from credflow_directory.app import DEFINITION
from tests.infrastructure import Infrastructure
from tests.integration.runtime_support import create_topics


@dataclass
class Org:
    id: UUID
    admin_id: UUID
    admin: dict[str, str]
    admin_email: str = ""

    def url(self, path: str = "") -> str:
        return f"/organisations/{self.id}{path}"


@dataclass
class DirectoryApi:
    client: httpx.AsyncClient
    topic: str
    platform: dict[str, str]
    topic_prefix: str = ""

    async def create_org(self, name: str, **settings: Any) -> Org:
        response = await self.client.post(
            "/organisations",
            json={
                "name": name,
                "settings": settings,
                "admin": {
                    "email": f"admin@{name.lower().replace(' ', '')}.test",
                    "name": "Ada Admin",
                },
            },
            headers=self.platform,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        org, admin = UUID(body["organisation_id"]), UUID(body["admin_user_id"])
        email = f"admin@{name.lower().replace(' ', '')}.test"
        return Org(org, admin, token(org, admin, "admin", permissions=["users:manage"]), email)

    async def create_user(self, org: Org, email: str, **fields: Any) -> dict[str, Any]:
        response = await self.client.post(
            org.url("/users"),
            json={"email": email, "name": email.split("@")[0], **fields},
            headers=org.admin,
        )
        assert response.status_code == 201, response.text
        user: dict[str, Any] = response.json()
        return user


def token(
    org: UUID, user: UUID, *roles: str, permissions: list[str] | None = None
) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_dev_token(user, org, list(roles), permissions)}"}


@pytest.fixture
async def directory(
    infra: Infrastructure, database_url: str, topic_prefix: str
) -> AsyncIterator[DirectoryApi]:
    await create_topics(infra.kafka_bootstrap_servers, [topic_prefix + DIRECTORY,
                                                        topic_prefix + ERASURES])  # fmt: skip
    infra_settings = InfraSettings(
        database_url=database_url, kafka_bootstrap_servers=infra.kafka_bootstrap_servers
    )
    app = create_app(DEFINITION, infra_settings, RuntimeSettings(topic_prefix=topic_prefix))
    platform = token(uuid7(), uuid7(), permissions=[PLATFORM_PERMISSION])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://directory") as client:
            yield DirectoryApi(client, topic_prefix + DIRECTORY, platform, topic_prefix)
