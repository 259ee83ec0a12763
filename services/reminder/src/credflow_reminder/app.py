"""Composition root of the reminder service.

HTTP routes: `routes.notification_settings`, around `service.NotificationSettingsService`.
Consumers: the directory replica (`reminder.directory-replica`) and `consumers.py`
(`reminder.credentials`: the schedule). Background: `tasks.Scheduler` and the mail relay.
Publishes ReminderSent on `credflow.reminders` and CredentialExpired on `credflow.credentials`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from credflow_common import directory_replica, mail
from credflow_common.service import ServiceDefinition
from credflow_common.service import create_app as create_service
from credflow_common.settings import InfraSettings, RuntimeSettings
from credflow_reminder.consumers import credentials_consumer, directory_consumer
from credflow_reminder.routes import notification_settings
from credflow_reminder.service import NotificationSettingsService
from credflow_reminder.tasks import Scheduler

Clock = Callable[[], datetime]


class ReminderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDFLOW_REMINDER_", extra="ignore")

    interval_s: float = Field(default=60.0, gt=0, description="How often due reminders are sent.")
    frozen_now: datetime | None = Field(
        default=None,
        description="Tests and demos only: the scheduler's clock stands still at this instant.",
    )

    def clock(self) -> Clock:
        frozen = self.frozen_now
        if frozen is None:
            return lambda: datetime.now(UTC)
        return lambda: frozen


def definition(
    clock: Clock | None = None, settings: ReminderSettings | None = None
) -> ServiceDefinition:
    """`clock` tells the scheduler what time it is (tests move it)."""
    settings = settings or ReminderSettings()
    now = clock or settings.clock()
    return ServiceDefinition(
        name="reminder",
        migrations=[
            directory_replica.MIGRATIONS,
            mail.MIGRATIONS,
            Path(__file__).resolve().parent / "migrations",
        ],
        routers=lambda context: [
            notification_settings.build(NotificationSettingsService(context.pool))
        ],
        consumers=lambda context: [
            directory_consumer(context.event_store, context.runtime.topic_prefix),
            credentials_consumer(context.runtime.topic_prefix),
        ],
        tasks=lambda context: [
            Scheduler(context.pool, context.event_store, now, settings.interval_s),
            mail.MailRelay(context.pool, context.infra.smtp_host, context.infra.smtp_port),
        ],
        user_standing=directory_replica.user_standing,
    )


def create_app(
    infra: InfraSettings,
    runtime: RuntimeSettings | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    return create_service(definition(clock), infra, runtime)
