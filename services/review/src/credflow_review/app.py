"""Composition root of the review service.

HTTP routes: `routes.reviews`, around the service layer (`service.Reviews`). Consumers:
`consumers.py` (credential events; directory replica with re-routing). Background: the mail relay.
Publishes ReviewRequested, ReviewClaimed, ReviewReleased, CredentialAccepted,
CredentialValidated and CredentialRejected on `credflow.credentials`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from credflow_common import directory_replica, mail
from credflow_common.service import ServiceContext, ServiceDefinition
from credflow_common.service import create_app as create_service
from credflow_common.settings import InfraSettings, RuntimeSettings
from credflow_review.consumers import credentials_consumer, directory_consumer
from credflow_review.mails import IMPORT_MAIL_DELAY
from credflow_review.routes import reviews
from credflow_review.service import Reviews


class ReviewSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDFLOW_REVIEW_", extra="ignore")

    import_mail_delay_s: float = Field(
        default=IMPORT_MAIL_DELAY.total_seconds(), ge=0,
        description="How long after a bulk import's review items arrive its reviewers get"
        " their one mail about them (the import's items gathered in one mail).",
    )  # fmt: skip


def _reviews(context: ServiceContext) -> Reviews:
    delay = timedelta(seconds=ReviewSettings().import_mail_delay_s)
    return Reviews(context.event_store, import_mail_delay=delay)


DEFINITION = ServiceDefinition(
    name="review",
    migrations=[
        directory_replica.MIGRATIONS,
        mail.MIGRATIONS,
        Path(__file__).resolve().parent / "migrations",
    ],
    routers=lambda context: [reviews.build(context.pool, _reviews(context))],
    consumers=lambda context: [
        directory_consumer(_reviews(context), context.runtime.topic_prefix),
        credentials_consumer(_reviews(context), context.runtime.topic_prefix),
    ],
    tasks=lambda context: [
        mail.MailRelay(context.pool, context.infra.smtp_host, context.infra.smtp_port)
    ],
    user_standing=directory_replica.user_standing,
)


def create_app(infra: InfraSettings, runtime: RuntimeSettings | None = None) -> FastAPI:
    return create_service(DEFINITION, infra, runtime)
