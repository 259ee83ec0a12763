"""Every credflow service, its default HTTP port and its app factory, in one explicit table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI

import credflow_console.app
import credflow_directory.app
import credflow_importer.app
import credflow_projection.app
import credflow_reminder.app
import credflow_review.app
import credflow_submission.app
from credflow_common.settings import InfraSettings


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    default_port: int
    create_app: Callable[[InfraSettings], FastAPI]


SERVICES: dict[str, ServiceEntry] = {
    entry.name: entry
    for entry in (
        ServiceEntry("console", 8100, credflow_console.app.create_app),
        ServiceEntry("directory", 8101, credflow_directory.app.create_app),
        ServiceEntry("submission", 8102, credflow_submission.app.create_app),
        ServiceEntry("review", 8103, credflow_review.app.create_app),
        ServiceEntry("importer", 8104, credflow_importer.app.create_app),
        ServiceEntry("reminder", 8105, credflow_reminder.app.create_app),
        ServiceEntry("projection", 8106, credflow_projection.app.create_app),
    )
}
