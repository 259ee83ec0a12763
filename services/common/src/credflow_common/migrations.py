"""Schema migrations with yoyo-migrations: plain SQL files, applied per service schema.

Each service's schema gets the shared runtime tables (`credflow_common/migrations`) and then
the service's own migrations. yoyo records what ran in `_yoyo_migration` inside that schema and
takes a lock, so several processes of one service may start at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict
from yoyo import get_backend, read_migrations

from credflow_common.db import check_schema_name, ensure_schema

RUNTIME_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def yoyo_url(database_url: str, schema: str) -> str:
    params = conninfo_to_dict(database_url)
    user = params.get("user", "")
    password = f":{params['password']}" if params.get("password") else ""
    host = params.get("host", "127.0.0.1")
    port = params.get("port", "5432")
    dbname = params.get("dbname", "")
    extra = {
        k: v for k, v in params.items() if k not in ("user", "password", "host", "port", "dbname")
    }
    query = "&".join([f"schema={schema}", *(f"{k}={v}" for k, v in extra.items())])
    return f"postgresql+psycopg://{user}{password}@{host}:{port}/{dbname}?{query}"


def apply_migrations_sync(
    database_url: str, schema: str, service_migrations: Sequence[Path] = (), *,
    runtime: bool = True,
) -> list[str]:  # fmt: skip
    """Apply every pending migration to `schema`; returns the ids applied. `runtime=False`
    leaves out the runtime's tables (event store, outbox, positions): the console keeps no
    events."""
    check_schema_name(schema)
    backend = get_backend(yoyo_url(database_url, schema))
    folders = [*([RUNTIME_MIGRATIONS] if runtime else []), *service_migrations]
    migrations = read_migrations(*(str(p) for p in folders))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [m.id for m in pending]


async def migrate(
    database_url: str, schema: str, service_migrations: Sequence[Path] = (), *,
    runtime: bool = True,
) -> list[str]:  # fmt: skip
    await ensure_schema(database_url, schema)
    return await asyncio.to_thread(
        partial(apply_migrations_sync, runtime=runtime), database_url, schema, service_migrations
    )
