"""Directory, submission, review and projection services in-process on real PostgreSQL,
Kafka and MinIO, sharing a topic prefix per test. The projection's clock can be moved."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from credflow_common.service import ServiceContext
from credflow_common.settings import InfraSettings, RuntimeSettings
from credflow_contracts.topics import ALL_TOPICS
from credflow_projection.app import definition as projection_service
from tests.infrastructure import Infrastructure
from tests.integration.directory.conftest import Org
from tests.integration.review.conftest import Services, running_services
from tests.integration.runtime_support import create_topics


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
    runtime = RuntimeSettings(topic_prefix=topic_prefix, min_position_wait_s=20)
    clock = Clock()
    async with running_services(infra, database_url, runtime, projection_service(clock)) as (
        services,
        [views],
        [projection],
    ):
        yield Stack(
            services,
            views,
            projection.state.context,
            clock,
            infra.settings(database_url),
            runtime,
        )
