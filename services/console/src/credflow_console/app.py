"""Composition root of the console: the web application people use (a backend-for-frontend).

It owns no domain data: every page is built from the six services' public APIs, called with the
signed-in person's short-lived RS256 token, which the console mints and whose public key it
serves at `/.well-known/jwks.json` (services: `CREDFLOW_AUTH_JWKS_URL`). It keeps its signed-in
sessions in its own PostgreSQL schema (`sessions`), so that signing out ends them.

Routers:
- `routes.signin`: OIDC and development sign-in, sign-out (here or everywhere), my account;
- `routes.credentials`, `routes.credential_forms`: a worker's credentials;
- `routes.reviews`: the reviewers' workspace;
- `routes.network`, `routes.dashboard`: the organisation's workers, credentials and companies,
  and its figures and charts (client viewers, admins, reviewers);
- `routes.admin_settings`, `routes.admin_types`, `routes.admin_users`,
  `routes.admin_directory`, `routes.admin_assessments`, `routes.admin_privacy` (legal hold,
  erasure): administration;
- `routes.imports`: the bulk upload wizard;
- `routes.team`: a manager's people; `routes.settings`: my notifications.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from cachetools import TTLCache
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from credflow_common.db import schema_pool
from credflow_common.http import ServiceInfo, create_service_app
from credflow_common.migrations import migrate
from credflow_common.readiness import postgres_check
from credflow_common.settings import InfraSettings, RuntimeSettings
from credflow_console.api import Api
from credflow_console.keys import TokenMinter, load_or_create_key
from credflow_console.people import People
from credflow_console.routes import (
    admin_assessments,
    admin_directory,
    admin_privacy,
    admin_settings,
    admin_types,
    admin_users,
    credential_forms,
    credentials,
    dashboard,
    imports,
    network,
    reviews,
    settings,
    signin,
    team,
)
from credflow_console.security import SecurityHeaders, origin
from credflow_console.sessions import SCHEMA, Sessions
from credflow_console.settings import DEV_SESSION_SECRET, ConsoleSettings
from credflow_console.web import Console, install_page_errors

STATIC = Path(__file__).parent / "static"
MIGRATIONS = Path(__file__).parent / "migrations"
SESSION_COOKIE = "credflow_session"


def create_app(infra: InfraSettings, console_settings: ConsoleSettings | None = None) -> FastAPI:
    config = console_settings or ConsoleSettings()
    runtime = RuntimeSettings()
    if runtime.environment == "production" and (
        config.session_secret.get_secret_value() == DEV_SESSION_SECRET
    ):
        # Anyone can read the default: with it, anyone could forge a signed-in session.
        raise RuntimeError(
            "CREDFLOW_CONSOLE_SESSION_SECRET must be set in production (a long random value)"
        )
    minter = TokenMinter(
        load_or_create_key(config.signing_key_file), config.public_url, config.api_token_ttl_s
    )
    api = Api(config)
    pool = schema_pool(infra.database_url, SCHEMA, max_size=runtime.db_pool_size)
    sessions = Sessions(
        pool, timedelta(seconds=config.session_max_age_s),
        timedelta(seconds=config.session_idle_timeout_s),
    )  # fmt: skip
    console = Console(
        config, api, minter, runtime.environment == "development",
        TTLCache(10_000, ttl=max(config.api_token_ttl_s - 60, 30)), sessions, People(api, minter),
    )  # fmt: skip

    async def directory_answers() -> None:
        response = await api.client.get(config.directory_url + "/health")
        response.raise_for_status()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await migrate(infra.database_url, SCHEMA, [MIGRATIONS], runtime=False)
        await pool.open(wait=False)  # a database away at start: pages answer 503 until it is back
        try:
            yield
        finally:
            await pool.close()
            await api.close()

    checks = {"directory": directory_answers, "postgres": postgres_check(infra.database_url)}
    app = create_service_app(
        ServiceInfo("console", readiness_checks=checks),
        lifespan=lifespan,
        runtime=runtime,
    )
    app.state.console = console
    install_page_errors(app)

    @app.get("/.well-known/jwks.json", tags=["operations"])
    async def jwks() -> dict[str, Any]:
        """The public key the services verify the console's API tokens with."""
        return minter.jwks()

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in (
        signin.build_router(console),
        credential_forms.build_router(),  # before credentials: /credentials/new is not an id
        credentials.build_router(),
        reviews.build_router(),
        network.build_router(),
        dashboard.build_router(),
        admin_settings.build_router(),
        admin_types.build_router(),
        admin_assessments.build_router(),
        admin_directory.build_router(),  # before admin_users: /admin/users/sync is not an id
        admin_privacy.build_router(),  # before admin_users: /admin/users/{id}/erase is no status
        admin_users.build_router(),
        imports.build_router(),
        team.build_router(),
        settings.build_router(),
    ):
        app.include_router(router, include_in_schema=False)
    app.add_middleware(
        SessionMiddleware,
        secret_key=config.session_secret.get_secret_value(),
        session_cookie=SESSION_COOKIE,
        max_age=config.session_max_age_s,
        same_site="lax",
        https_only=runtime.environment != "development",
    )
    app.add_middleware(SecurityHeaders, media_origin=origin(infra.s3_endpoint_url))
    return app
