"""The HTTP app factory every service uses: `/health`, `/ready` and `/metrics`.

`/health` says the process is alive. `/ready` runs the service's readiness checks (its
database, its broker, ...) and answers 503 with the failing checks when any fails.
`/metrics` is the Prometheus exposition of the service's registry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest

ReadinessCheck = Callable[[], Awaitable[None]]


@dataclass
class ServiceInfo:
    name: str
    version: str = "0.1.0"
    readiness_checks: Mapping[str, ReadinessCheck] = field(default_factory=dict)
    readiness_timeout_s: float = 2.0


def create_service_app(info: ServiceInfo, registry: CollectorRegistry | None = None) -> FastAPI:
    registry = registry or CollectorRegistry()
    app = FastAPI(title=f"credflow {info.name}", version=info.version)
    app.state.metrics_registry = registry
    latency = Histogram(
        "http_request_duration_seconds",
        "HTTP request latency by route and status.",
        ["method", "route", "status"],
        registry=registry,
    )

    @app.middleware("http")
    async def observe_latency(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        latency.labels(request.method, path, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": info.name}

    @app.get("/ready", tags=["operations"])
    async def ready() -> JSONResponse:
        failures: dict[str, str] = {}
        for check_name, check in info.readiness_checks.items():
            try:
                await asyncio.wait_for(check(), timeout=info.readiness_timeout_s)
            except Exception as exc:  # a readiness probe reports every failure, whatever it is
                failures[check_name] = f"{type(exc).__name__}: {exc}"
        if failures:
            return JSONResponse(
                {"status": "unavailable", "service": info.name, "failing": failures}, 503
            )
        return JSONResponse({"status": "ready", "service": info.name})

    @app.get("/metrics", tags=["operations"])
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
