"""The HTTP app factory every service uses.

Every app gets `/health` (the process is alive), `/ready` (its dependencies answer: 503 with
the failing ones otherwise), `/metrics` (Prometheus), RFC 9457 problem details for every error,
JWT authentication (see `credflow_common.auth`) and a request context: the correlation id from
`X-Correlation-ID` (or a new one) is bound into every log line and echoed in the response.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from uuid import UUID

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credflow_common.auth import AuthSettings, TokenVerifier
from credflow_common.inputs import InputGuard
from credflow_common.openapi import install_openapi
from credflow_common.outages import install_outage_handlers
from credflow_common.problems import ProblemError, install_problem_handlers
from credflow_common.settings import RuntimeSettings
from credflow_contracts.ids import uuid7

ReadinessCheck = Callable[[], Awaitable[None]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
CORRELATION_HEADER = "X-Correlation-ID"


@dataclass
class ServiceInfo:
    name: str
    version: str = "0.1.0"
    readiness_checks: Mapping[str, ReadinessCheck] = field(default_factory=dict)
    readiness_timeout_s: float = 2.0


def correlation_id_from(request: Request) -> UUID:
    raw = request.headers.get(CORRELATION_HEADER, "")
    try:
        return UUID(raw)
    except ValueError:
        return uuid7()


class RequestContext:
    """Binds the correlation id for the request's logs, echoes it in the response, and times
    the request. A plain ASGI middleware: Starlette's `BaseHTTPMiddleware` costs a task and
    a stream per request."""

    def __init__(self, app: ASGIApp, service: str, latency: Histogram) -> None:
        self.app = app
        self.service = service
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        correlation_id = correlation_id_from(request)
        request.state.correlation_id = correlation_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            service=self.service, correlation_id=str(correlation_id)
        )
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(CORRELATION_HEADER, str(correlation_id))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.latency.labels(scope["method"], path, str(status)).observe(
                time.perf_counter() - started
            )


def metrics_token(runtime: RuntimeSettings) -> bytes | None:
    """What a scrape of /metrics must send: None (open) outside production; in production the
    configured token, or b"" (nothing opens it) when none is set."""
    if runtime.environment != "production":
        return None
    token = runtime.metrics_token
    return token.get_secret_value().encode() if token else b""


def create_service_app(
    info: ServiceInfo,
    registry: CollectorRegistry | None = None,
    auth: AuthSettings | None = None,
    lifespan: Lifespan | None = None,
    runtime: RuntimeSettings | None = None,
) -> FastAPI:
    registry = registry or CollectorRegistry()
    runtime = runtime or RuntimeSettings()
    app = FastAPI(
        title=f"credflow {info.name}",
        version=info.version,
        lifespan=lifespan,
        docs_url=None,  # served by install_openapi, without a CDN
        redoc_url=None,
        openapi_url="/openapi.json" if runtime.api_docs else None,
    )
    app.state.metrics_registry = registry
    app.state.token_verifier = TokenVerifier(auth or AuthSettings())
    install_problem_handlers(app)
    install_outage_handlers(app)
    if runtime.api_docs:
        install_openapi(app)
    latency = Histogram(
        "http_request_duration_seconds",
        "HTTP request latency by route and status.",
        ["method", "route", "status"],
        registry=registry,
    )

    app.add_middleware(InputGuard)  # inside RequestContext: its refusals are logged and timed
    app.add_middleware(RequestContext, service=info.name, latency=latency)

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

    scrape_token = metrics_token(runtime)

    @app.get("/metrics", tags=["operations"])
    async def metrics(request: Request) -> Response:
        if scrape_token is not None:
            sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if not scrape_token or not secrets.compare_digest(sent.encode(), scrape_token):
                raise ProblemError(
                    401, "Unauthorized", "/metrics needs the scrape token (CREDFLOW_METRICS_TOKEN)",
                    headers={"WWW-Authenticate": 'Bearer realm="credflow-metrics"'},
                )  # fmt: skip
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
