"""Removing an erased person's files from the object store, then reporting the erasure (ADR
0017).

A service whose part of an erasure includes files queues their prefixes in its
`media_erasures` table (`queue_files`), in the transaction that applies `PersonErased` with its
consumer position, with the counts of what that transaction deleted. Its `FileEraser` task
removes every object and object version under those prefixes, then reports the erasure with
those counts and the number of files removed. The object store is called while no database
connection is held; an outage of either makes the task wait and carry on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from credflow_common import erasure
from credflow_common.eventstore import EventStore
from credflow_common.media import MediaRemovalError, MediaStore
from credflow_common.outages import Outage
from credflow_common.waiting import notifications, poll_until_stopped
from credflow_contracts.events.directory import PersonErased

Conn = AsyncConnection[Any]
log = structlog.get_logger("credflow.erasure")


def channel_of(service: str) -> str:
    """The channel a service's `FileEraser` listens on for new work."""
    return f"{service}_media_erasures"


async def queue_files(
    conn: Conn, service: str, erased: PersonErased, prefixes: Sequence[str],
    deleted: Mapping[str, int],
) -> None:  # fmt: skip
    """Queue the files under `prefixes` for the service's `FileEraser`, which reports the
    erasure with `deleted` and the files it removed (asked twice, the first stays)."""
    await conn.execute(
        "INSERT INTO media_erasures (erasure_id, organisation_id, user_id, prefixes, deleted)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (erased.erasure_id, erased.organisation_id, erased.user_id, sorted(set(prefixes)),
         Jsonb(dict(deleted))),
    )  # fmt: skip
    await conn.execute("SELECT pg_notify(%s, '')", (channel_of(service),))


class FileEraser:
    def __init__(
        self,
        service: str,
        pool: AsyncConnectionPool[Conn],
        store: EventStore,
        media: MediaStore,
        database_url: str,
        *,
        poll_interval_s: float = 5.0,
    ) -> None:
        self.service, self.pool, self.store, self.media = service, pool, store, media
        self.database_url, self.poll_interval_s = database_url, poll_interval_s
        self._stopping = asyncio.Event()
        self.outage = Outage(f"{service} file eraser", self._stopping)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        await self.outage.retry(self._run_forever)

    async def _run_forever(self) -> None:
        async with notifications(self.database_url, channel_of(self.service)) as woken:
            await poll_until_stopped(self.outage, self.erase_next,
                                     interval_s=self.poll_interval_s, woken_by=woken)  # fmt: skip

    async def erase_next(self) -> bool:
        """Remove the files of the oldest unreported erasure and report it; whether there was
        one."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT erasure_id, organisation_id, user_id, prefixes, deleted"
                " FROM media_erasures WHERE reported_at IS NULL ORDER BY requested_at LIMIT 1"
            )
            row = await cursor.fetchone()
        if row is None:
            return False
        erasure_id, org, user_id, prefixes, deleted = row
        try:
            removed = 0
            for prefix in prefixes:
                removed += await self.media.remove_all(prefix)
        except MediaRemovalError as exc:
            log.warning("files of an erasure could not all be removed yet",
                        erasure_id=str(erasure_id), error=str(exc))  # fmt: skip
            return False
        erased = PersonErased(organisation_id=org, user_id=user_id, erasure_id=erasure_id,
                              erased_at=datetime.now(UTC))  # fmt: skip
        async with self.pool.connection() as conn, conn.transaction():
            marked = await conn.execute(
                "UPDATE media_erasures SET reported_at = now() WHERE erasure_id = %s"
                " AND reported_at IS NULL",
                (erasure_id,),
            )
            if marked.rowcount == 1:
                counts = {**deleted, "files": removed}
                await erasure.report(conn, self.store, self.service, erased, counts)
        return True
