"""Directory, submission and review services in-process on real PostgreSQL, Kafka and the
SMTP sink, sharing a topic prefix per test."""

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
from credflow_common.service import ServiceContext, ServiceDefinition, create_app
from credflow_common.settings import RuntimeSettings
from credflow_contracts.ids import uuid7
from credflow_contracts.topics import CREDENTIALS, DIRECTORY, SUBMISSION_COMMANDS
from credflow_directory.app import DEFINITION as DIRECTORY_SERVICE
from credflow_review.app import DEFINITION as REVIEW_SERVICE
from credflow_submission.app import DEFINITION as SUBMISSION_SERVICE
from tests.infrastructure import Infrastructure
from tests.integration.directory.conftest import DirectoryApi, Org, token
from tests.integration.runtime_support import create_topics
from tests.integration.submission.conftest import started
from tests.polling import eventually


@dataclass
class Services:
    directory: DirectoryApi
    submission: httpx.AsyncClient
    review: httpx.AsyncClient
    submission_context: ServiceContext
    review_context: ServiceContext
    topic_prefix: str
    mail_api: str

    async def replicated(self, body: dict[str, Any]) -> None:
        """Both replicas have applied this directory change."""
        position = UUID(body["position"])
        for ctx, consumer in (
            (self.submission_context, "submission.directory-replica"),
            (self.review_context, "review.directory"),
        ):
            assert await wait_until_applied(ctx.pool, consumer, position, timeout_s=30)

    async def org(self, name: str) -> Org:
        org = await self.directory.create_org(name)
        body = (
            await self.directory.client.patch(
                org.url("/settings"), headers=org.admin, json={"expiring_soon_days": 31}
            )
        ).json()
        await self.replicated(body)
        return org

    async def settings(self, org: Org, **changes: Any) -> None:
        response = await self.directory.client.patch(
            org.url("/settings"), json=changes, headers=org.admin
        )
        assert response.status_code == 200, response.text
        await self.replicated(response.json())

    async def post(self, org: Org, path: str, **body: Any) -> dict[str, Any]:
        response = await self.directory.client.post(org.url(path), json=body, headers=org.admin)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        await self.replicated(result)
        return result

    async def submit(
        self, org: Org, as_: dict[str, str], type_id: str, holder_id: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"credential_type_id": type_id, "issued_on": "2026-01-31"}
        if holder_id:
            body["holder_id"] = holder_id
        response = await self.submission.post(
            f"/organisations/{org.id}/credentials", json=body, headers=as_
        )
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    async def queue(self, org: Org, as_: dict[str, str], **params: Any) -> list[dict[str, Any]]:
        response = await self.review.get(
            f"/organisations/{org.id}/reviews", params=params, headers=as_
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def item_for(
        self, org: Org, as_: dict[str, str], credential_id: str, version_number: int = 1
    ) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        async def arrived() -> bool:
            found[:] = [
                i
                for i in await self.queue(org, as_)
                if i["credential_id"] == credential_id and i["version_number"] == version_number
            ]
            return bool(found)

        await eventually(arrived, timeout_s=60)
        return found[0]

    async def mails_to(self, address: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=self.mail_api) as client:
            found = await client.get(
                "/api/v1/search", params={"query": f"to:{address}", "limit": 1000}
            )
            messages: list[dict[str, Any]] = found.json()["messages"]
            return messages


def as_user(org: Org, user: dict[str, Any]) -> dict[str, str]:
    return token(org.id, UUID(user["user_id"]), *user["roles"])


@contextlib.asynccontextmanager
async def running_services(
    infra: Infrastructure,
    database_url: str,
    runtime: RuntimeSettings,
    *more: ServiceDefinition,
) -> AsyncIterator[tuple[Services, list[httpx.AsyncClient], list[FastAPI]]]:
    """Directory, submission and review in-process (plus `more` services, whose clients and
    apps come back beside them), sharing `runtime`'s topic prefix."""
    settings = infra.settings(database_url)
    apps = [
        create_app(d, settings, runtime)
        for d in (DIRECTORY_SERVICE, SUBMISSION_SERVICE, REVIEW_SERVICE, *more)
    ]
    platform = token(uuid7(), uuid7(), permissions=[PLATFORM_PERMISSION])
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(started(a)) for a in apps]
        directory, submission, review = clients[:3]
        services = Services(
            DirectoryApi(directory, runtime.topic_prefix + DIRECTORY, platform),
            submission,
            review,
            apps[1].state.context,
            apps[2].state.context,
            runtime.topic_prefix,
            infra.mail_api_url,
        )
        yield services, clients[3:], apps[3:]


@pytest.fixture
async def services(
    infra: Infrastructure, database_url: str, topic_prefix: str
) -> AsyncIterator[Services]:
    await create_topics(
        infra.kafka_bootstrap_servers,
        [topic_prefix + t for t in (DIRECTORY, CREDENTIALS, SUBMISSION_COMMANDS)],
    )
    runtime = RuntimeSettings(topic_prefix=topic_prefix)
    async with running_services(infra, database_url, runtime) as (started_services, _, _):
        yield started_services
