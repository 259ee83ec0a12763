"""Directory, submission, review and projection services in-process on real PostgreSQL,
Kafka and MinIO, sharing a topic prefix per test. The projection's clock can be moved."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from credflow_common.auth import PLATFORM_PERMISSION
from credflow_common.service import ServiceContext, create_app
from credflow_common.settings import InfraSettings, RuntimeSettings
from credflow_contracts.ids import uuid7
from credflow_contracts.topics import ALL_TOPICS, DIRECTORY
from credflow_directory.app import DEFINITION as DIRECTORY_SERVICE
from credflow_projection.app import definition as projection_service
from credflow_review.app import DEFINITION as REVIEW_SERVICE
from credflow_submission.app import DEFINITION as SUBMISSION_SERVICE
from tests.infrastructure import Infrastructure
from tests.integration.directory.conftest import DirectoryApi, Org, token
from tests.integration.review.conftest import Services
from tests.integration.runtime_support import create_topics
from tests.integration.submission.conftest import started


@dataclass
class Clock:
    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Stack:
    services: Services
    views: httpx.AsyncClient
    views_context: ServiceContext
    clock: Clock
    infra: InfraSettings
    runtime: RuntimeSettings

    async def get(
        self, org: Org, path: str, as_: dict[str, str], expect: int = 200, **params: Any
    ) -> Any:
        response = await self.views.get(
            f"/organisations/{org.id}{path}", params=params, headers=as_
        )
        assert response.status_code == expect, response.text
        return response.json()


@pytest.fixture
async def stack(
    infra: Infrastructure, database_url: str, topic_prefix: str
) -> AsyncIterator[Stack]:
    await create_topics(infra.kafka_bootstrap_servers, [topic_prefix + t for t in ALL_TOPICS])
    settings = infra.settings(database_url)
    runtime = RuntimeSettings(topic_prefix=topic_prefix, min_position_wait_s=20)
    clock = Clock()
    apps = [
        create_app(d, settings, runtime)
        for d in (DIRECTORY_SERVICE, SUBMISSION_SERVICE, REVIEW_SERVICE, projection_service(clock))
    ]
    platform = token(uuid7(), uuid7(), permissions=[PLATFORM_PERMISSION])
    async with contextlib.AsyncExitStack() as stack:
        directory, submission, review, views = [
            await stack.enter_async_context(started(a)) for a in apps
        ]
        services = Services(
            DirectoryApi(directory, topic_prefix + DIRECTORY, platform),
            submission,
            review,
            apps[1].state.context,
            apps[2].state.context,
            topic_prefix,
            infra.mail_api_url,
        )
        yield Stack(services, views, apps[3].state.context, clock, settings, runtime)


def uid(body: dict[str, Any], name: str = "user_id") -> UUID:
    return UUID(body[name])
