"""Directory, submission, review, reminder and projection in-process on real PostgreSQL, Kafka
and the SMTP sink, with a clock the tests move (no test waits for a date)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from credflow_common.service import ServiceContext
from credflow_common.settings import RuntimeSettings
from credflow_contracts.topics import ALL_TOPICS
from credflow_projection.app import definition as projection_service
from credflow_reminder.app import ReminderSettings
from credflow_reminder.app import definition as reminder_service
from credflow_reminder.tasks import Scheduler
from tests.infrastructure import Infrastructure
from tests.integration.directory.conftest import Org, token
from tests.integration.review.conftest import Services, running_services
from tests.integration.runtime_support import create_topics
from tests.polling import eventually


class MovableClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set_day(self, day: date, hour: int = 9) -> None:
        self.now = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@dataclass
class ReminderStack:
    services: Services
    reminder: httpx.AsyncClient
    reminder_context: ServiceContext
    views: httpx.AsyncClient
    clock: MovableClock

    def scheduler(self) -> Scheduler:
        """A scheduler on the reminder service's database (a second instance when asked for
        twice); the service's own ticks only hourly in these tests."""
        context = self.reminder_context
        return Scheduler(context.pool, context.event_store, self.clock)

    async def person(self, org: Org, label: str, **fields: Any) -> dict[str, Any]:
        user = await self.services.directory.create_user(
            org, f"{label}@{org.id.hex[-12:]}.test", name=label.title(), **fields
        )
        await self.services.replicated(user)
        await self.replicated(user)
        return user

    async def replicated(self, body: dict[str, Any]) -> None:
        from credflow_common.positions import wait_until_applied

        assert await wait_until_applied(
            self.reminder_context.pool, "reminder.directory-replica", UUID(body["position"]), 30
        )

    async def submit(
        self, org: Org, holder: dict[str, Any], type_id: str, expires_on: date
    ) -> dict[str, Any]:
        response = await self.services.submission.post(
            f"/organisations/{org.id}/credentials",
            json={
                "credential_type_id": type_id,
                "holder_id": holder["user_id"],
                "issued_on": str(expires_on - timedelta(days=700)),
                "expires_on": str(expires_on),
            },
            headers=org.admin,
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        await self.scheduled(body["credential_id"], expires_on)
        return body

    async def scheduled(self, credential_id: str, expires_on: date) -> None:
        """Wait until the reminder's schedule knows this credential's expiry date."""

        async def known() -> bool:
            async with self.reminder_context.pool.connection() as conn:
                cursor = await conn.execute(
                    "SELECT expires_on FROM schedule WHERE credential_id = %s", (credential_id,)
                )
                return await cursor.fetchone() == (expires_on,)

        await eventually(known, timeout_s=30)

    async def tick(self, day: date) -> None:
        """Move the clock to 09:00 UTC on `day`, run the scheduler, let the mail relay send."""
        self.clock.set_day(day)
        await self.scheduler().tick()
        await self.mails_sent()

    async def mails_sent(self) -> None:
        async def none_pending() -> bool:
            async with self.reminder_context.pool.connection() as conn:
                cursor = await conn.execute(
                    "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL"
                )
                return await cursor.fetchone() == (0,)

        await eventually(none_pending, timeout_s=30)

    async def subjects_to(self, address: str) -> list[str]:
        return sorted(m["Subject"] for m in await self.services.mails_to(address))

    def as_(self, org: Org, user: dict[str, Any]) -> dict[str, str]:
        return token(org.id, UUID(user["user_id"]), *user["roles"])


@pytest.fixture
async def stack(
    infra: Infrastructure, database_url: str, topic_prefix: str
) -> AsyncIterator[ReminderStack]:
    await create_topics(infra.kafka_bootstrap_servers, [topic_prefix + t for t in ALL_TOPICS])
    clock = MovableClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    runtime = RuntimeSettings(topic_prefix=topic_prefix, min_position_wait_s=20)
    hourly = ReminderSettings(interval_s=3600)
    async with running_services(
        infra,
        database_url,
        runtime,
        reminder_service(clock, hourly),
        projection_service(clock),
    ) as (services, [reminder, views], [reminder_app, _]):
        yield ReminderStack(services, reminder, reminder_app.state.context, views, clock)
