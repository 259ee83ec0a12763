"""The importer's background task: `Finisher`, on every importer instance, sends the valid rows
of imports that are `finishing` to the submission service, a chunk per transaction, in row
order: the chunk's SubmitCredential commands go into the outbox and the job's `sent_through`
(the last row number sent) moves on in that same transaction, so a crash neither loses nor
repeats a chunk. One instance works on an import at a time (its row is locked, others skip it).
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID, uuid5

import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common.eventstore import EventStore, Metadata
from credflow_common.outages import Outage
from credflow_common.waiting import notifications, poll_until_stopped
from credflow_contracts.events.commands import SubmitCredential
from credflow_contracts.events.values import Certification, Issuer
from credflow_importer.store import FINISHING_CHANNEL, stream_id

log = structlog.get_logger("credflow.importer")


class Finisher:
    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        store: EventStore,
        database_url: str,
        chunk_size: int = 1000,
        poll_interval_s: float = 1.0,
    ) -> None:
        self.pool = pool
        self.store = store
        self.database_url = database_url
        self.chunk_size = chunk_size
        self.poll_interval_s = poll_interval_s
        self._stopping = asyncio.Event()
        self.outage = Outage("import finisher", self._stopping)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Send rows until `stop()`, waiting out database outages (and listening again after
        one: the listening connection is lost with the database)."""
        await self.outage.retry(self._finish_forever)

    async def _finish_forever(self) -> None:
        async def send() -> bool:
            return await self.send_chunk() > 0

        async with notifications(self.database_url, FINISHING_CHANNEL) as woken:
            await poll_until_stopped(self.outage, send, interval_s=self.poll_interval_s,
                                     woken_by=woken)  # fmt: skip

    async def send_chunk(self) -> int:
        """Send the next chunk of one finishing import's unsent rows; 0 when none is left."""
        async with self.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "SELECT import_id, organisation_id, uploaded_by, stream_version, sent_through"
                " FROM imports i WHERE status = 'finishing' AND EXISTS (SELECT 1"
                " FROM import_rows r WHERE r.import_id = i.import_id"
                " AND r.row_number > i.sent_through)"
                " ORDER BY finish_requested_at LIMIT 1 FOR UPDATE SKIP LOCKED"
            )
            job = await cursor.fetchone()
            if job is None:
                return 0
            import_id, org, uploaded_by, version, sent_through = job
            cursor = await conn.execute(
                "SELECT row_number, credential_id, holder_id, credential_type_id, issued_on,"
                " expires_on, certification_number, issuer, notes, media FROM import_rows"
                " WHERE import_id = %s AND row_number > %s ORDER BY row_number LIMIT %s",
                (import_id, sent_through, self.chunk_size),
            )
            rows = await cursor.fetchall()
            commands = [_command(import_id, org, uploaded_by, row) for row in rows]
            metadata = Metadata(org, correlation_id=import_id, actor_id=uploaded_by)
            await self.store.append(conn, stream_id(import_id), version, commands, metadata)
            await conn.execute(
                "UPDATE imports SET stream_version = stream_version + %(sent)s,"
                " rows_sent = rows_sent + %(sent)s, sent_through = %(through)s,"
                " updated_at = now() WHERE import_id = %(import)s",
                {"sent": len(commands), "through": rows[-1][0], "import": import_id},
            )
        log.info("import rows sent", import_id=str(import_id), rows=len(commands))
        return len(commands)


def _command(
    import_id: UUID, org: UUID, uploaded_by: UUID, row: tuple[Any, ...]
) -> SubmitCredential:
    (number, credential_id, holder_id, type_id, issued_on, expires_on, certification_number,
     issuer, notes, media) = row  # fmt: skip
    return SubmitCredential(
        command_id=uuid5(credential_id, "version-1"),
        credential_id=credential_id,
        organisation_id=org,
        import_id=import_id,
        row_number=number,
        holder_id=holder_id,
        credential_type_id=type_id,
        issued_on=issued_on,
        expires_on=expires_on,
        certification=Certification(number=certification_number) if certification_number else None,
        issuer=Issuer(name=issuer) if issuer else None,
        notes=notes,
        media=[media] if media else [],
        requested_by=uploaded_by,
    )
