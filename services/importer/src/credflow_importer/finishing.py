"""Finishing imports: sending their rows, and noticing when every row is a credential.

- `Finisher` (a background task of every importer instance) sends the valid rows of imports
  that are `finishing` to the submission service, a chunk per transaction, in row order: the
  chunk's SubmitCredential commands go into the outbox and the job's `sent_through` (the last
  row number sent) moves on in that same transaction, so a crash neither loses nor repeats a
  chunk. One instance works on an import at a time (its row is locked, others skip it).
- `progress_consumer` reads `credflow.credentials` and `credflow.imports`: each
  CredentialSubmitted of an import counts as a row applied, each ImportRowRefused as a row
  refused (it turned invalid after the check; the row keeps the reason). The counters live in
  `import_progress`, not on the job the finisher locks, and count exactly because the inbox
  applies each event once. When applied + refused reach the valid rows, ImportCompleted is
  appended (once: the import's status changes in the same transaction).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

import psycopg
import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common.consumer import ConsumerSpec, Delivery, types_of
from credflow_common.eventstore import EventStore, Metadata
from credflow_common.outages import Outage
from credflow_common.waiting import set_on_notify, until_any
from credflow_contracts.events.commands import SubmitCredential
from credflow_contracts.events.credentials import CredentialSubmitted
from credflow_contracts.events.imports import ImportCompleted, ImportRowRefused
from credflow_contracts.events.values import Certification, Issuer
from credflow_contracts.topics import CREDENTIALS, IMPORTS
from credflow_importer import domain
from credflow_importer.store import FINISHING_CHANNEL

log = structlog.get_logger("credflow.importer")
Conn = AsyncConnection[Any]


def stream_id(import_id: UUID) -> str:
    return f"import-{import_id}"


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
        self._work = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Send rows until `stop()`, waiting out database outages (and listening again after
        one: the listening connection is lost with the database)."""
        await self.outage.retry(self._finish_forever)

    async def _finish_forever(self) -> None:
        listener = asyncio.create_task(
            set_on_notify(self.database_url, FINISHING_CHANNEL, self._work)
        )
        try:
            while not self._stopping.is_set():
                self._work.clear()
                sent = await self.send_chunk()
                self.outage.cleared()
                if not sent:
                    await self._wait()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, psycopg.Error, OSError):
                await listener

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

    async def _wait(self) -> None:
        await until_any(self._work, self._stopping, timeout_s=self.poll_interval_s)


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


# A refusal names the command's field; the uploader knows the CSV's columns.
COLUMN_OF_FIELD = {"holder_id": "email", "credential_type_id": "credential_type"}


def progress_consumer(store: EventStore, topic_prefix: str = "") -> ConsumerSpec:
    async def apply(conn: Conn, deliveries: Sequence[Delivery]) -> None:
        events = [delivery.envelope.event for delivery in deliveries]
        applied = Counter(
            event.import_id
            for event in events
            if isinstance(event, CredentialSubmitted) and event.import_id is not None
        )
        refusals = [event for event in events if isinstance(event, ImportRowRefused)]
        refused: Counter[UUID] = Counter()
        if refusals:
            cursor = await conn.execute(
                "UPDATE import_rows r SET refused_at = now(), refused_column = f.refused_column,"
                " refusal = f.refusal"
                " FROM unnest(%s::uuid[], %s::text[], %s::text[])"
                " AS f (credential_id, refused_column, refusal)"
                " WHERE r.credential_id = f.credential_id AND r.refused_at IS NULL"
                " RETURNING r.import_id",
                (
                    [event.credential_id for event in refusals],
                    [COLUMN_OF_FIELD.get(event.field or "", event.field) for event in refusals],
                    [event.reason for event in refusals],
                ),
            )
            refused.update(row[0] for row in await cursor.fetchall())
        touched = sorted(set(applied) | set(refused))
        if not touched:
            return
        cursor = await conn.execute(
            "UPDATE import_progress p SET rows_applied = p.rows_applied + c.applied,"
            " rows_refused = p.rows_refused + c.refused"
            " FROM unnest(%s::uuid[], %s::integer[], %s::integer[]) AS c (import_id, applied,"
            " refused) WHERE p.import_id = c.import_id"
            " RETURNING p.import_id, p.rows_valid - p.rows_applied - p.rows_refused",
            (touched, [applied[i] for i in touched], [refused[i] for i in touched]),
        )
        for import_id, unsettled in sorted(await cursor.fetchall()):
            if unsettled <= 0:
                await complete_if_done(conn, store, import_id)

    return ConsumerSpec(
        name="importer.progress",
        topics=[topic_prefix + CREDENTIALS, topic_prefix + IMPORTS],
        handler=apply,
        event_types=types_of(CredentialSubmitted, ImportRowRefused),
    )


async def complete_if_done(conn: Conn, store: EventStore, import_id: UUID) -> None:
    cursor = await conn.execute(
        "SELECT i.organisation_id, i.uploaded_by, i.file_name, i.rows_total, i.approval_required,"
        " i.status, i.stream_version, p.rows_applied, p.rows_refused,"
        " p.rows_valid - p.rows_applied - p.rows_refused"
        " FROM imports i JOIN import_progress p USING (import_id)"
        " WHERE i.import_id = %s FOR UPDATE OF i",
        (import_id,),
    )
    row = await cursor.fetchone()
    assert row is not None
    org, uploaded_by, file_name, rows_total, approval, status, version = row[:7]
    created, refused, unsettled = row[7:]
    if not domain.is_complete(status, unsettled):
        return
    now = datetime.now(UTC)
    completed = ImportCompleted(
        import_id=import_id,
        organisation_id=org,
        uploaded_by=uploaded_by,
        file_name=file_name,
        rows_total=rows_total,
        credentials_created=created,
        approval_required=approval,
        completed_at=now,
        rows_refused=refused,
    )
    metadata = Metadata(org, correlation_id=import_id, actor_id=uploaded_by)
    await store.append(conn, stream_id(import_id), version, [completed], metadata)
    await conn.execute(
        "UPDATE imports SET status = 'completed', completed_at = %s, updated_at = now(),"
        " stream_version = stream_version + 1 WHERE import_id = %s",
        (now, import_id),
    )
    log.info("import completed", import_id=str(import_id), credentials=created, refused=refused)
