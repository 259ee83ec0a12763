"""Composition root of the directory service: organisations and their reference data.

HTTP routes: `credflow_directory.api.build_router`, and `credflow_directory.people` (sign-in's
lookup of people by email). It publishes on `credflow.directory` and
consumes nothing.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from credflow_common.service import ServiceDefinition
from credflow_common.service import create_app as create_service
from credflow_common.settings import InfraSettings
from credflow_directory import store
from credflow_directory.api import build_router
from credflow_directory.people import build_people_router

DEFINITION = ServiceDefinition(
    name="directory",
    migrations=[Path(__file__).resolve().parent / "migrations"],
    routers=lambda context: [build_router(context), build_people_router(context)],
    user_status=store.user_status,
)


def create_app(infra: InfraSettings) -> FastAPI:
    return create_service(DEFINITION, infra)
