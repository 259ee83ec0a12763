"""Waiting in background tasks: for the first of several events, for a NOTIFY, and the loop
every polling task runs (the outbox relay, the mail relay, the import finisher)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import psycopg
from psycopg import AsyncConnection, sql

if TYPE_CHECKING:  # outages waits with until_any
    from credflow_common.outages import Outage


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


@contextlib.asynccontextmanager
async def notifications(database_url: str, channel: str) -> AsyncIterator[asyncio.Event]:
    """An event set on every NOTIFY on `channel` while the block runs. A lost listening
    connection only leaves the pollers' fallback interval."""
    notified = asyncio.Event()
    listener = asyncio.create_task(set_on_notify(database_url, channel, notified))
    try:
        yield notified
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, psycopg.Error, OSError):
            await listener


async def poll_until_stopped(
    outage: Outage,
    round_of_work: Callable[[], Awaitable[bool]],
    *,
    interval_s: float,
    woken_by: asyncio.Event | None = None,
) -> None:
    """Run rounds of work until the task stops. A round answers whether more is waiting (a
    full batch); after one that found less, wait for `woken_by` (a NOTIFY), the stop, or
    `interval_s`. Each round that succeeds ends an outage."""
    stopping = outage.stopping
    while not stopping.is_set():
        if woken_by is not None:
            woken_by.clear()
        more = await round_of_work()
        outage.cleared()
        if not more:
            await until_any(*(e for e in (woken_by, stopping) if e is not None),
                            timeout_s=interval_s)  # fmt: skip
