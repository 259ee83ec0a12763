"""Signed-in sessions kept server-side (the console's own PostgreSQL schema, `console`).

The session cookie (signed, HttpOnly, SameSite) carries a random secret; the row found by its
SHA-256 says whose session it is. Ending a session deletes its row, so a copy of the cookie
replayed afterwards signs nobody in, on any console instance. A session lapses after its
lifetime (`session_max_age_s`) or when idle for longer than `session_idle_timeout_s`; lapsed
rows are swept at each sign-in. Rows hold ids and times only, never names or emails.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_console.api import UnavailableError

SCHEMA = "console"
TOUCH_EVERY = timedelta(seconds=30)
"""How stale `last_seen_at` may be before a request writes it again (not on every request)."""


@dataclass(frozen=True)
class Session:
    organisation_id: UUID
    user_id: UUID
    started_at: datetime


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class Sessions:
    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        lifetime: timedelta,
        idle_timeout: timedelta,
    ) -> None:
        self.pool, self.lifetime, self.idle_timeout = pool, lifetime, idle_timeout

    async def start(self, organisation_id: UUID, user_id: UUID) -> str:
        """A new session; returns the secret for the cookie."""
        secret = secrets.token_urlsafe(32)
        async with self._connection() as conn:
            await conn.execute(
                "DELETE FROM sessions WHERE started_at < now() - %s OR last_seen_at < now() - %s",
                (self.lifetime, self.idle_timeout),
            )
            await conn.execute(
                "INSERT INTO sessions (secret_hash, organisation_id, user_id) VALUES (%s, %s, %s)",
                (_hash(secret), organisation_id, user_id),
            )
        return secret

    async def find(self, secret: str) -> Session | None:
        """The live session of this secret (its idle clock restarted), or None."""
        async with self._connection() as conn:
            cursor = await conn.execute(
                "SELECT organisation_id, user_id, started_at, last_seen_at < now() - %s"
                " FROM sessions WHERE secret_hash = %s"
                " AND started_at >= now() - %s AND last_seen_at >= now() - %s",
                (TOUCH_EVERY, _hash(secret), self.lifetime, self.idle_timeout),
            )
            row = await cursor.fetchone()
            if row is None:
                return None
            organisation_id, user_id, started_at, stale = row
            if stale:
                await conn.execute(
                    "UPDATE sessions SET last_seen_at = now() WHERE secret_hash = %s",
                    (_hash(secret),),
                )
        return Session(organisation_id, user_id, started_at)

    async def end(self, secret: str) -> None:
        async with self._connection() as conn:
            await conn.execute("DELETE FROM sessions WHERE secret_hash = %s", (_hash(secret),))

    async def end_all(self, organisation_id: UUID, user_id: UUID) -> int:
        """End every session of a person (sign out everywhere, deactivation); how many."""
        async with self._connection() as conn:
            cursor = await conn.execute(
                "DELETE FROM sessions WHERE organisation_id = %s AND user_id = %s",
                (organisation_id, user_id),
            )
            return cursor.rowcount

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A pooled connection in a transaction; the database out of reach is
        UnavailableError, which pages answer with 503."""
        try:
            async with self.pool.connection() as conn:
                yield conn
        except psycopg.OperationalError as exc:
            raise UnavailableError(f"sessions: {exc}") from exc
