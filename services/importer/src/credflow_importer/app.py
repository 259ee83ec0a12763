"""Composition root of the importer service.

HTTP routes: `routes.imports`, around the service layer (`service.Imports`). Consumers: the
directory replica (`importer.directory-replica`) and `consumers.progress_consumer` (rows applied
by the submission service). Background: `tasks.Finisher`, and `file_erasure.FileEraser` (the
files of erased people's rows that never became credentials).
Publishes SubmitCredential on `credflow.submission.commands` and ImportCompleted on
`credflow.imports`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from credflow_common import directory_replica
from credflow_common.file_erasure import FileEraser
from credflow_common.media import MediaStore
from credflow_common.service import ServiceDefinition
from credflow_common.service import create_app as create_service
from credflow_common.settings import InfraSettings, RuntimeSettings
from credflow_importer.consumers import SERVICE, directory_consumer, progress_consumer
from credflow_importer.routes import imports
from credflow_importer.service import Imports
from credflow_importer.tasks import Finisher

DEFINITION = ServiceDefinition(
    name="importer",
    migrations=[directory_replica.MIGRATIONS, Path(__file__).resolve().parent / "migrations"],
    routers=lambda context: [imports.build(Imports(context.pool, MediaStore(context.infra)))],
    consumers=lambda context: [
        directory_consumer(context.runtime.topic_prefix),
        progress_consumer(context.event_store, context.runtime.topic_prefix),
    ],
    tasks=lambda context: [
        Finisher(context.pool, context.event_store, context.infra.database_url),
        FileEraser(
            SERVICE,
            context.pool,
            context.event_store,
            MediaStore(context.infra),
            context.infra.database_url,
        ),
    ],
    user_standing=directory_replica.user_standing,
)


def create_app(infra: InfraSettings, runtime: RuntimeSettings | None = None) -> FastAPI:
    return create_service(DEFINITION, infra, runtime)
