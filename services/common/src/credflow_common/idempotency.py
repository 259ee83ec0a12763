"""Command idempotency keys: a repeated key returns the first outcome and writes nothing new.

A key belongs to its caller (organisation and person): the same key sent by someone else is
another command, never a way to read the first caller's result.

Use `idempotent` inside the command's transaction, before doing the work:

    async with pool.connection() as conn, conn.transaction():
        earlier = await claim(conn, caller, key, fingerprint)
        if earlier is not None:
            return earlier                      # the first outcome, nothing written
        outcome = ...                           # do the work, append events
        await record(conn, caller, key, outcome)

`claim` inserts the key first: a concurrent request with the same key blocks on that row until
the first transaction ends, then sees its outcome (or, if it rolled back, does the work itself).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from credflow_common.errors import IdempotencyKeyReusedError
from credflow_common.eventstore import RecordedEvent


def fingerprint(payload: Any) -> str:
    """A stable hash of a command's content, to tell a retry from a different command."""
    canonical = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    tenant_id: UUID
    person_id: UUID


async def claim(
    conn: AsyncConnection[Any], caller: Caller, key: str, command_fingerprint: str
) -> dict[str, Any] | None:
    """Claim `key` for this transaction; return the earlier outcome if it was used before."""
    await conn.execute(
        "INSERT INTO command_results (tenant_id, caller_id, idempotency_key, fingerprint)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (caller.tenant_id, caller.person_id, key, command_fingerprint),
    )
    cursor = await conn.execute(
        "SELECT fingerprint, result FROM command_results"
        " WHERE tenant_id = %s AND caller_id = %s AND idempotency_key = %s",
        (caller.tenant_id, caller.person_id, key),
    )
    row = await cursor.fetchone()
    assert row is not None  # inserted above or by an earlier, committed transaction
    stored_fingerprint, result = row
    if stored_fingerprint != command_fingerprint:
        raise IdempotencyKeyReusedError(key)
    return result if isinstance(result, dict) else None


async def earlier_outcome(
    conn: AsyncConnection[Any], caller: Caller, key: str
) -> dict[str, Any] | None:
    """The outcome recorded for `caller`'s `key`, if a command with it completed (a look
    before doing slow work, such as storing files, that a replay would not need)."""
    cursor = await conn.execute(
        "SELECT result FROM command_results"
        " WHERE tenant_id = %s AND caller_id = %s AND idempotency_key = %s",
        (caller.tenant_id, caller.person_id, key),
    )
    row = await cursor.fetchone()
    return row[0] if row and isinstance(row[0], dict) else None


async def record(
    conn: AsyncConnection[Any], caller: Caller, key: str, outcome: dict[str, Any]
) -> None:
    await conn.execute(
        "UPDATE command_results SET result = %s"
        " WHERE tenant_id = %s AND caller_id = %s AND idempotency_key = %s",
        (Jsonb(outcome), caller.tenant_id, caller.person_id, key),
    )


Work = Callable[[AsyncConnection[Any]], Awaitable[tuple[dict[str, Any], Sequence[RecordedEvent]]]]


async def run_command(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    caller: Caller,
    key: str | None,
    content: Any,
    work: Work,
) -> dict[str, Any]:
    """Run a command's `work` in one transaction, honouring its idempotency key, and answer
    with its body plus `position` (the id of its last event, for read-your-writes). `content`
    (the route and the command's payload) tells a retry from a different command."""
    async with pool.connection() as conn, conn.transaction():
        command_fingerprint = fingerprint(content)
        if key is not None:
            earlier = await claim(conn, caller, key, command_fingerprint)
            if earlier is not None:
                return earlier
        body, recorded = await work(conn)
        body = {**body, "position": str(recorded[-1].event_id) if recorded else None}
        if key is not None:
            await record(conn, caller, key, body)
        return body
