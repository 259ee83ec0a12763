"""The submission service's background task: `MediaEraser` removes the files of erased
people's credentials (every object and object version under each credential's prefix), then
reports the erasure (ADR 0017). The object store is called while no database connection is
held; an outage of either makes it wait and carry on."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common import erasure
from credflow_common.eventstore import EventStore
from credflow_common.media import MediaRemovalError, MediaStore, credential_prefix
from credflow_common.outages import Outage
from credflow_common.waiting import notifications, poll_until_stopped
from credflow_contracts.events.credentials import CredentialSubmitted, CredentialSubmittedV1
from credflow_contracts.events.directory import PersonErased

Conn = AsyncConnection[Any]
MEDIA_ERASURES_CHANNEL = "submission_media_erasures"
SERVICE = "submission"
log = structlog.get_logger("credflow.submission")

_FIRST_EVENTS = [CredentialSubmittedV1.ce_type(), CredentialSubmitted.ce_type()]


async def erase(conn: Conn, erased: PersonErased) -> None:
    """The submission service's part of an erasure, in the replica consumer's transaction:
    the files of every credential the person holds are queued for the `MediaEraser`, which
    reports once they are gone. (Their credentials' events are sealed with the person's
    destroyed key.)"""
    org = erased.organisation_id
    cursor = await conn.execute(
        "SELECT DISTINCT stream_id FROM events WHERE data->>'holder_id' = %s AND tenant_id = %s"
        " AND event_type = ANY(%s)",
        (str(erased.user_id), org, _FIRST_EVENTS),
    )
    prefixes = [
        credential_prefix(org, UUID(stream.removeprefix("credential-")))
        for (stream,) in await cursor.fetchall()
    ]
    await conn.execute(
        "INSERT INTO media_erasures (erasure_id, organisation_id, user_id, prefixes)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (erased.erasure_id, org, erased.user_id, sorted(prefixes)),
    )
    await conn.execute("SELECT pg_notify(%s, '')", (MEDIA_ERASURES_CHANNEL,))


class MediaEraser:
    def __init__(
        self,
        pool: AsyncConnectionPool[Conn],
        store: EventStore,
        media: MediaStore,
        database_url: str,
        poll_interval_s: float = 5.0,
    ) -> None:
        self.pool, self.store, self.media = pool, store, media
        self.database_url, self.poll_interval_s = database_url, poll_interval_s
        self._stopping = asyncio.Event()
        self.outage = Outage("media eraser", self._stopping)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        await self.outage.retry(self._run_forever)

    async def _run_forever(self) -> None:
        async with notifications(self.database_url, MEDIA_ERASURES_CHANNEL) as woken:
            await poll_until_stopped(self.outage, self.erase_next,
                                     interval_s=self.poll_interval_s, woken_by=woken)  # fmt: skip

    async def erase_next(self) -> bool:
        """Remove the files of the oldest unreported erasure and report it; whether there was
        one."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT erasure_id, organisation_id, user_id, prefixes FROM media_erasures"
                " WHERE reported_at IS NULL ORDER BY requested_at LIMIT 1"
            )
            row = await cursor.fetchone()
        if row is None:
            return False
        erasure_id, org, user_id, prefixes = row
        try:
            removed = await self._remove(prefixes)
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
                deleted = {"credentials": len(prefixes), "files": removed}
                await erasure.report(conn, self.store, SERVICE, erased, deleted)
        return True

    async def _remove(self, prefixes: Sequence[str]) -> int:
        removed = 0
        for prefix in prefixes:
            removed += await self.media.remove_all(prefix)
        return removed
