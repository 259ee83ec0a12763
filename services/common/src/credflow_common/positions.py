"""A consumer's stored positions, and read-your-writes: wait (bounded) until a consumer has
applied an event or reached offsets.

A command's response carries the id of the last event it wrote (`position`). A query that
must see that command's effect waits until the consumer that builds its view has applied that
event, or until the timeout, and then answers with what it has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common.delivery import Record
from credflow_common.inbox import older_than_retention

POLL_INTERVAL_S = 0.02


async def has_applied(conn: AsyncConnection[Any], consumer: str, event_id: UUID) -> bool:
    """Whether the inbox holds the event; an event older than the inbox's window counts as
    applied (its id may have been pruned, and nobody waits days for their own write)."""
    if older_than_retention(event_id):
        return True
    cursor = await conn.execute(
        "SELECT 1 FROM consumer_inbox WHERE consumer = %s AND event_id = %s", (consumer, event_id)
    )
    return await cursor.fetchone() is not None


async def has_reached(
    conn: AsyncConnection[Any], consumer: str, offsets: Mapping[tuple[str, int], int]
) -> bool:
    """True when the consumer's next offset is past every given (topic, partition) offset."""
    reached = await stored_positions(conn, consumer)
    return all(reached.get(tp, 0) > offset for tp, offset in offsets.items())


async def stored_positions(conn: AsyncConnection[Any], consumer: str) -> dict[tuple[str, int], int]:
    """The consumer's next offset per (topic, partition), as its last batch stored it."""
    cursor = await conn.execute(
        "SELECT topic, partition, next_offset FROM consumer_positions WHERE consumer = %s",
        (consumer,),
    )
    return {(t, p): o for t, p, o in await cursor.fetchall()}


async def save_positions(
    conn: AsyncConnection[Any], consumer: str, records: Sequence[Record]
) -> None:
    """Store the next offset after `records` per partition, in the caller's transaction (never
    moving a position back)."""
    next_offsets: dict[tuple[str, int], int] = {}
    for record in records:
        key = (record.topic, record.partition)
        next_offsets[key] = max(next_offsets.get(key, 0), record.offset + 1)
    keys = list(next_offsets)
    await conn.execute(
        "INSERT INTO consumer_positions (consumer, topic, partition, next_offset)"
        " SELECT %s, unnest(%b::text[]), unnest(%b::integer[]), unnest(%b::bigint[])"
        " ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset ="
        " GREATEST(consumer_positions.next_offset, EXCLUDED.next_offset), updated_at = now()",
        (consumer, [t for t, _ in keys], [p for _, p in keys], list(next_offsets.values())),
    )


async def wait_until_applied(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    consumer: str,
    event_id: UUID,
    timeout_s: float,
) -> bool:
    """Wait until `consumer` has applied `event_id`; False if the timeout passed first."""
    return await _wait(pool, lambda conn: has_applied(conn, consumer, event_id), timeout_s)


async def wait_until_reached(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    consumer: str,
    offsets: Mapping[tuple[str, int], int],
    timeout_s: float,
) -> bool:
    """Wait until `consumer` is past every given offset; False if the timeout passed first."""
    return await _wait(pool, lambda conn: has_reached(conn, consumer, offsets), timeout_s)


async def _wait(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    done: Callable[[AsyncConnection[Any]], Awaitable[bool]],
    timeout_s: float,
) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        async with pool.connection() as conn:
            if await done(conn):
                return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(min(POLL_INTERVAL_S, max(deadline - loop.time(), 0)))
