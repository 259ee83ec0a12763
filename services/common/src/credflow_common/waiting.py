"""Waiting in background tasks: for the first of several events, for a NOTIFY."""

from __future__ import annotations

import asyncio
import contextlib

from psycopg import AsyncConnection, sql


async def until_any(*events: asyncio.Event, timeout_s: float) -> None:
    """Return when any of `events` is set, or after `timeout_s` (a polling fallback)."""
    waits = {asyncio.ensure_future(event.wait()) for event in events}
    _, pending = await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def set_on_notify(database_url: str, channel: str, event: asyncio.Event) -> None:
    """Set `event` on every NOTIFY on `channel`, until cancelled. LISTENs on a connection of
    its own that runs no other query: psycopg hands a NOTIFY read during another query to
    handlers only, so a shared connection would lose some."""
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        async for _ in conn.notifies():
            event.set()
