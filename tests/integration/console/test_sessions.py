"""The console's sessions, kept in PostgreSQL: a session is found by its cookie's secret until it
is ended (sign-out), ended with every other session of its person (sign out everywhere,
deactivation), idle for longer than the idle timeout, or older than its lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from credflow_common.db import schema_pool
from credflow_common.migrations import migrate
from credflow_console.api import UnavailableError
from credflow_console.app import MIGRATIONS
from credflow_console.sessions import SCHEMA, Sessions
from credflow_contracts.ids import uuid7

ORG, PAT, SAM = uuid7(), uuid7(), uuid7()


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    await migrate(database_url, SCHEMA, [MIGRATIONS], runtime=False)
    pool = schema_pool(database_url, SCHEMA, max_size=2)
    await pool.open()
    try:
        yield Sessions(pool, lifetime=timedelta(hours=8), idle_timeout=timedelta(hours=1))
    finally:
        await pool.close()


async def age(sessions: Sessions, *, started: str, seen: str) -> None:
    """Move every session's clock back, as if time had passed."""
    async with sessions.pool.connection() as conn:
        await conn.execute(
            "UPDATE sessions SET started_at = now() - %s::interval,"
            " last_seen_at = now() - %s::interval",
            (started, seen),
        )


async def test_a_session_is_found_by_its_secret_until_it_is_ended(sessions: Sessions) -> None:
    secret = await sessions.start(ORG, PAT)
    found = await sessions.find(secret)
    assert found is not None
    assert (found.organisation_id, found.user_id) == (ORG, PAT)
    assert await sessions.find(secret + "x") is None
    await sessions.end(secret)
    assert await sessions.find(secret) is None, "a copy of the cookie signs nobody in"


async def test_only_a_hash_of_the_secret_is_stored(sessions: Sessions) -> None:
    secret = await sessions.start(ORG, PAT)
    async with sessions.pool.connection() as conn:
        cursor = await conn.execute("SELECT secret_hash FROM sessions")
        stored = [bytes(row[0]) for row in await cursor.fetchall()]
    assert stored
    assert all(secret.encode() not in value for value in stored)


async def test_ending_every_session_of_a_person_leaves_other_peoples(sessions: Sessions) -> None:
    laptop, phone = await sessions.start(ORG, PAT), await sessions.start(ORG, PAT)
    other = await sessions.start(ORG, SAM)
    assert await sessions.end_all(ORG, PAT) == 2
    assert await sessions.find(laptop) is None
    assert await sessions.find(phone) is None
    assert await sessions.find(other) is not None


async def test_an_idle_session_and_an_old_one_have_ended(sessions: Sessions) -> None:
    secret = await sessions.start(ORG, PAT)
    await age(sessions, started="2 hours", seen="59 minutes")
    assert await sessions.find(secret) is not None, "used within the idle timeout"
    await age(sessions, started="2 hours", seen="61 minutes")
    assert await sessions.find(secret) is None, "idle for longer than the timeout"
    secret = await sessions.start(ORG, SAM)
    await age(sessions, started="8 hours 1 minute", seen="1 minute")
    assert await sessions.find(secret) is None, "older than its lifetime, though in use"


async def test_using_a_session_restarts_its_idle_clock(sessions: Sessions) -> None:
    secret = await sessions.start(ORG, PAT)
    await age(sessions, started="2 hours", seen="50 minutes")
    assert await sessions.find(secret) is not None
    async with sessions.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT now() - last_seen_at < interval '1 minute' FROM sessions"
        )
        assert await cursor.fetchone() == (True,)


async def test_lapsed_sessions_are_swept_at_the_next_sign_in(sessions: Sessions) -> None:
    await sessions.start(ORG, PAT)
    await age(sessions, started="9 hours", seen="9 hours")
    await sessions.start(ORG, SAM)
    async with sessions.pool.connection() as conn:
        cursor = await conn.execute("SELECT user_id FROM sessions")
        assert [row[0] for row in await cursor.fetchall()] == [SAM]


async def test_the_database_away_is_unavailable_not_an_error(database_url: str) -> None:
    pool = schema_pool("postgresql://credflow@127.0.0.1:1/none", SCHEMA, timeout_s=0.5)
    await pool.open(wait=False)
    try:
        gone = Sessions(pool, lifetime=timedelta(hours=8), idle_timeout=timedelta(hours=1))
        with pytest.raises(UnavailableError):
            await gone.find("anything")
    finally:
        await pool.close()
