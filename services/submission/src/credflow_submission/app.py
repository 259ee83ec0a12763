"""Composition root of the submission service: the single writer of credentials.

Routes (`routes/`): credential commands, lifecycle changes, then reads, each built here around
the service layer (`service.Credentials`). Consumers (`consumers.py` and the common directory
replica): `credflow.directory` and the importer's commands (`credflow.submission.commands`).
Publishes on `credflow.credentials`. Its background task (`file_erasure.FileEraser`) removes
the files of erased people (`tasks.erase` queues them from the replica's consumer).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI

from credflow_common import directory_replica
from credflow_common.file_erasure import FileEraser
from credflow_common.media import MediaStore
from credflow_common.service import ServiceContext, ServiceDefinition
from credflow_common.service import create_app as create_service
from credflow_common.settings import InfraSettings, RuntimeSettings
from credflow_submission.consumers import command_consumer
from credflow_submission.routes import credentials, lifecycle, reads
from credflow_submission.service import Credentials
from credflow_submission.tasks import SERVICE, erase


def routers(context: ServiceContext) -> list[APIRouter]:
    media = MediaStore(context.infra)
    service = Credentials(context, media)
    return [credentials.build(service), lifecycle.build(service), reads.build(context, media)]


def file_eraser(context: ServiceContext) -> FileEraser:
    media = MediaStore(context.infra)
    return FileEraser(SERVICE, context.pool, context.event_store, media,
                      context.infra.database_url)  # fmt: skip


DEFINITION = ServiceDefinition(
    name="submission",
    migrations=[directory_replica.MIGRATIONS, Path(__file__).resolve().parent / "migrations"],
    routers=routers,
    consumers=lambda context: [
        directory_replica.replica_consumer("submission", context.runtime.topic_prefix, erase),
        command_consumer(context.event_store, context.runtime.topic_prefix),
    ],
    tasks=lambda context: [file_eraser(context)],
    user_standing=directory_replica.user_standing,
)


def create_app(infra: InfraSettings, runtime: RuntimeSettings | None = None) -> FastAPI:
    return create_service(DEFINITION, infra, runtime)
