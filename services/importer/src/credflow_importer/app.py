"""Composition root of the importer service.

Until the service's own issue lands it runs only the shared runtime: its schema and
migrations, an outbox relay, and the operational endpoints (/health, /ready, /metrics).
"""

from __future__ import annotations

from fastapi import FastAPI

from credflow_common.service import ServiceDefinition
from credflow_common.service import create_app as create_service
from credflow_common.settings import InfraSettings

DEFINITION = ServiceDefinition(name="importer")


def create_app(infra: InfraSettings) -> FastAPI:
    return create_service(DEFINITION, infra)
