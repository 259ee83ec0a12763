"""Composition root of the projection service.

Consumer: `projector.views_consumer` (every public topic into the view tables). HTTP routes
(read-only, around `service.Views`): `routes.credentials`, `routes.workers`,
`routes.review_queue` and `routes.exports` (the views as streamed CSV). Rebuild: `rebuild.py`
(`credflow projection rebuild`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, FastAPI

from credflow_common.service import ServiceDefinition
from credflow_common.service import create_app as create_service
from credflow_common.settings import InfraSettings, RuntimeSettings
from credflow_projection import queries
from credflow_projection.projector import views_consumer
from credflow_projection.routes import credentials, exports, review_queue, workers
from credflow_projection.service import Views

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def routers(views: Views) -> list[APIRouter]:
    return [
        credentials.build(views),
        workers.build(views),
        review_queue.build(views),
        exports.build(views),
    ]


def definition(clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> ServiceDefinition:
    """`clock` tells the views what day it is (tests move it)."""
    return ServiceDefinition(
        name="projection",
        migrations=[MIGRATIONS],
        routers=lambda context: routers(Views(context, clock)),
        consumers=lambda context: [views_consumer(context.runtime.topic_prefix)],
        publishes=False,
        user_standing=queries.person_standing,
    )


DEFINITION = definition()


def create_app(
    infra: InfraSettings,
    runtime: RuntimeSettings | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    return create_service(definition(clock), infra, runtime)
