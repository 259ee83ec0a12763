"""Composition root of the submission service: the single writer of credentials.

HTTP routes: `credflow_submission.api.build_router` (commands) and
`credflow_submission.reads.build_read_router` (reads). Consumers: the directory replica
(`credflow.directory`) and the importer's commands (`credflow.submission.commands`). Publishes
on `credflow.credentials`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI

from credflow_common import directory_replica
from credflow_common.media import MediaStore
from credflow_common.service import ServiceContext, ServiceDefinition
from credflow_common.service import create_app as create_service
from credflow_common.settings import InfraSettings, RuntimeSettings
from credflow_submission.api import build_router
from credflow_submission.commands import command_consumer
from credflow_submission.reads import build_read_router


def routers(context: ServiceContext, media: MediaStore) -> list[APIRouter]:
    """Commands (with their files), then reads."""
    return [build_router(context, media), build_read_router(context, media)]


DEFINITION = ServiceDefinition(
    name="submission",
    migrations=[directory_replica.MIGRATIONS, Path(__file__).resolve().parent / "migrations"],
    routers=lambda context: routers(context, MediaStore(context.infra)),
    consumers=lambda context: [
        directory_replica.replica_consumer("submission", context.runtime.topic_prefix),
        command_consumer(context.event_store, context.runtime.topic_prefix),
    ],
    user_status=directory_replica.user_status,
)


def create_app(infra: InfraSettings, runtime: RuntimeSettings | None = None) -> FastAPI:
    return create_service(DEFINITION, infra, runtime)
