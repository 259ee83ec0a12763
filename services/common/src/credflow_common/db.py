"""PostgreSQL access: one pool per service, every connection scoped to the service's schema."""

from __future__ import annotations

import re

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_schema_name(schema: str) -> str:
    if not SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


def contains_pattern(text: str) -> str:
    """An ILIKE pattern matching `text` anywhere, its wildcards (`%`, `_`, `\\`) taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def schema_pool(
    database_url: str,
    schema: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    timeout_s: float = 3.0,
    reconnect_timeout_s: float = 2.0,
    check_connections: bool = True,
) -> AsyncConnectionPool[psycopg.AsyncConnection]:
    """A pool whose connections see only `schema` (search_path), opened by the caller.

    `timeout_s` bounds the wait for a connection: while the database is down, a request gets
    its answer (503) within seconds instead of queueing for the pool's default 30 s.

    After the database comes back, the pool works again at the next request:
    - psycopg_pool retries a lost connection with a doubling delay (1, 2, 4 ... 32 s) for
      `reconnect_timeout` (5 minutes by default), and waiting requests do not hurry it: after a
      40 s outage the next try came 23 s after the database was back, and until then every
      request and background task got "couldn't get a connection". Giving a try up after
      `reconnect_timeout_s` leaves the next request to start a fresh one at once;
    - each connection is checked as it is handed out (`check_connections`: one empty query),
      so the connections the restart broke are replaced instead of failing their next user.
      A connection can still be lost while in use: callers handle that as an outage."""
    check_schema_name(schema)
    return AsyncConnectionPool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout_s,
        reconnect_timeout=reconnect_timeout_s,
        check=AsyncConnectionPool.check_connection if check_connections else None,
        kwargs={
            "options": f"-c search_path={schema}",
            "autocommit": False,
            "connect_timeout": 3,
        },
        open=False,
        name=f"credflow-{schema}",
    )


async def ensure_schema(database_url: str, schema: str) -> None:
    check_schema_name(schema)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


async def drop_schema(database_url: str, schema: str) -> None:
    check_schema_name(schema)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )
