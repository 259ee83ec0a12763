"""Composition root of the review service: builds its HTTP app from settings.

Until the service's own issue lands it serves only the operational endpoints
(/health, /ready, /metrics).
"""

from __future__ import annotations

from fastapi import FastAPI

from credflow_common.http import ServiceInfo, create_service_app
from credflow_common.readiness import kafka_check, postgres_check
from credflow_common.settings import InfraSettings

SERVICE_NAME = "review"


def create_app(infra: InfraSettings) -> FastAPI:
    info = ServiceInfo(
        name=SERVICE_NAME,
        readiness_checks={
            "postgres": postgres_check(infra.database_url),
            "kafka": kafka_check(infra.kafka_bootstrap_servers),
        },
    )
    return create_service_app(info)
