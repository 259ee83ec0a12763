"""Composition root of the projection service.

Consumer: `credflow_projection.projector.views_consumer` (every public topic into the view
tables). HTTP: `credflow_projection.api.build_router` (read-only views) and
`credflow_projection.exports.build_router` (the views as streamed CSV).
Rebuild: `credflow_projection.rebuild` (`credflow projection rebuild`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI

from credflow_common.service import ServiceDefinition
from credflow_common.service import create_app as create_service
from credflow_common.settings import InfraSettings, RuntimeSettings
from credflow_projection import api, exports, queries
from credflow_projection.projector import views_consumer

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def definition(clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> ServiceDefinition:
    """`clock` tells the views what day it is (tests move it)."""
    return ServiceDefinition(
        name="projection",
        migrations=[MIGRATIONS],
        routers=lambda context: [
            api.build_router(context, clock),
            exports.build_router(context, clock),
        ],
        consumers=lambda context: [views_consumer(context.runtime.topic_prefix)],
        publishes=False,
        user_status=queries.person_status,
    )


DEFINITION = definition()


def create_app(
    infra: InfraSettings,
    runtime: RuntimeSettings | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    return create_service(definition(clock), infra, runtime)
