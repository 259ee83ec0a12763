"""A service's part of an erasure (ADR 0017): when the directory's `PersonErased` reaches the
service's copy of the directory, the service erases what it holds of the person in the same
transaction as its consumer position (so a service killed in the middle does it again after
restart, and a redelivered event does nothing twice), then reports what it deleted on
`credflow.erasures` (`ErasureReported`, ids and counts only). The directory completes the
erasure, and its receipt, once every service that holds personal data has reported.

A service whose deletion leaves the transaction (the object store's files) reports later,
from the task that deletes them (`report` is then called there)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from credflow_common.eventstore import EventStore, Metadata
from credflow_contracts.events.directory import PersonErased
from credflow_contracts.events.erasures import ErasureReported

Conn = AsyncConnection[Any]
Deleted = Mapping[str, int]

Eraser = Callable[[Conn, PersonErased], Awaitable[Deleted | None]]
"""Erases the person's data in the caller's transaction; returns what it deleted (reported at
once), or None when it reports later itself."""


def report_stream(erasure_id: Any, service: str) -> str:
    return f"erasure-{erasure_id}-{service}"


async def report(
    conn: Conn,
    store: EventStore,
    service: str,
    erased: PersonErased,
    deleted: Deleted,
) -> bool:
    """Append the service's report in the caller's transaction (its outbox publishes it);
    whether it was new (a second report of the same erasure is not made)."""
    stream = report_stream(erased.erasure_id, service)
    if await store.current_version(conn, stream) > 0:
        return False
    event = ErasureReported(
        erasure_id=erased.erasure_id,
        organisation_id=erased.organisation_id,
        user_id=erased.user_id,
        service=service,
        deleted=dict(deleted),
        reported_at=datetime.now(UTC),
    )
    metadata = Metadata(erased.organisation_id, correlation_id=erased.erasure_id)
    await store.append(conn, stream, 0, [event], metadata)
    return True


def reporting_eraser(store: EventStore, service: str, erase: Eraser) -> Eraser:
    """`erase`, then its report in the same transaction (unless it reports later itself)."""

    async def erase_and_report(conn: Conn, erased: PersonErased) -> Deleted | None:
        deleted = await erase(conn, erased)
        if deleted is not None:
            await report(conn, store, service, erased, deleted)
        return deleted

    return erase_and_report


async def row_count(conn: Conn, statement: str, params: Any) -> int:
    """Run a DELETE or UPDATE; how many rows it touched."""
    cursor = await conn.execute(statement, params)
    return max(cursor.rowcount, 0)
