"""The directory and submission services in-process, against real PostgreSQL, Kafka and MinIO,
sharing a topic prefix per test: directory changes reach the submission's replica by Kafka."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from credflow_common.auth import PLATFORM_PERMISSION
from credflow_common.positions import wait_until_applied
from credflow_common.service import ServiceContext, create_app
from credflow_common.settings import RuntimeSettings
from credflow_contracts.ids import uuid7
from credflow_contracts.topics import CREDENTIALS, DIRECTORY, IMPORTS, SUBMISSION_COMMANDS
from credflow_directory.app import DEFINITION as DIRECTORY_SERVICE
from credflow_submission.app import DEFINITION as SUBMISSION_SERVICE
from tests.infrastructure import Infrastructure
from tests.integration.directory.conftest import DirectoryApi, Org, token
from tests.integration.runtime_support import create_topics

REPLICA = "submission.directory-replica"


@dataclass
class Stack:
    directory: DirectoryApi
    submission: httpx.AsyncClient
    context: ServiceContext
    topic_prefix: str

    async def replicated(self, response_body: dict[str, Any]) -> None:
        """Wait until the submission's replica applied a directory change (read-your-writes)."""
        position = UUID(response_body["position"])
        assert await wait_until_applied(self.context.pool, REPLICA, position, timeout_s=30)

    async def org(self, name: str, **settings: Any) -> Org:
        org = await self.directory.create_org(name, **settings)
        users = await self.directory.client.get(org.url("/users"), headers=org.admin)
        assert users.status_code == 200
        settings_body = (
            await self.directory.client.patch(
                org.url("/settings"), json={"expiring_soon_days": 31}, headers=org.admin
            )
        ).json()
        await self.replicated(settings_body)
        return org

    async def credential_type(self, org: Org, **fields: Any) -> dict[str, Any]:
        response = await self.directory.client.post(
            org.url("/credential-types"), json=fields, headers=org.admin
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        await self.replicated(body)
        return body

    async def user(self, org: Org, email: str, **fields: Any) -> dict[str, Any]:
        user = await self.directory.create_user(org, email, **fields)
        await self.replicated(user)
        return user


@contextlib.asynccontextmanager
async def started(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


@pytest.fixture
async def stack(
    infra: Infrastructure, database_url: str, topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Stack]:
    monkeypatch.setenv("CREDFLOW_MEDIA_URL_EXPIRY_S", "2")
    await create_topics(
        infra.kafka_bootstrap_servers,
        [topic_prefix + t for t in (DIRECTORY, CREDENTIALS, SUBMISSION_COMMANDS, IMPORTS)],
    )
    settings = infra.settings(database_url)
    runtime = RuntimeSettings(topic_prefix=topic_prefix)
    directory_app = create_app(DIRECTORY_SERVICE, settings, runtime)
    submission_app = create_app(SUBMISSION_SERVICE, settings, runtime)
    platform = token(uuid7(), uuid7(), permissions=[PLATFORM_PERMISSION])
    async with started(directory_app) as directory_client, started(submission_app) as client:
        yield Stack(
            DirectoryApi(directory_client, topic_prefix + DIRECTORY, platform),
            client,
            submission_app.state.context,
            topic_prefix,
        )
