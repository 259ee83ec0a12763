"""The importer's consumer: `progress_consumer` reads `credflow.credentials` and
`credflow.imports`: each CredentialSubmitted of an import counts as a row applied, each
ImportRowRefused as a row refused (it turned invalid after the check; the row keeps the
reason). The counters live in `import_progress`, not on the job the finisher locks, and count
exactly because the inbox applies each event once. When applied + refused reach the valid rows,
ImportCompleted is appended (once: the import's status changes in the same transaction).

`directory_consumer` keeps the directory replica and does the importer's part of an erasure
(`erase`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import structlog

from credflow_common import directory_replica
from credflow_common.consumer import ConsumerSpec, Delivery, types_of
from credflow_common.erasure import row_count
from credflow_common.eventstore import EventStore, Metadata
from credflow_common.file_erasure import queue_files
from credflow_common.media import credential_prefix
from credflow_contracts.events.credentials import CredentialSubmitted
from credflow_contracts.events.directory import PersonErased
from credflow_contracts.events.imports import ImportCompleted, ImportRowRefused
from credflow_contracts.topics import CREDENTIALS, IMPORTS
from credflow_importer import domain
from credflow_importer.store import Conn, completion_stream_id

log = structlog.get_logger("credflow.importer")
SERVICE = "importer"


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
        " i.status, p.rows_applied, p.rows_refused,"
        " p.rows_valid - p.rows_applied - p.rows_refused"
        " FROM imports i JOIN import_progress p USING (import_id)"
        " WHERE i.import_id = %s FOR UPDATE OF i",
        (import_id,),
    )
    row = await cursor.fetchone()
    assert row is not None
    org, uploaded_by, file_name, rows_total, approval, status = row[:6]
    created, refused, unsettled = row[6:]
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
    await store.append(conn, completion_stream_id(import_id), 0, [completed], metadata)
    await conn.execute(
        "UPDATE imports SET status = 'completed', completed_at = %s, updated_at = now()"
        " WHERE import_id = %s",
        (now, import_id),
    )
    log.info("import completed", import_id=str(import_id), credentials=created, refused=refused)


ERASED_FILE_NAME = "erased"


async def erase(conn: Conn, erased: PersonErased) -> None:
    """The importer's part of an erasure: the person's rows keep their ids, dates and outcome
    (the import's counts stay true) and lose their numbers, issuers, notes and file names; the
    imports they uploaded lose their file's name; the files attached to their rows that never
    became credentials (not sent yet: a draft, an import not finished; or refused) are queued
    for the `FileEraser`, which reports once they are gone (a credential's files are the
    submission service's)."""
    org, person = erased.organisation_id, erased.user_id
    cursor = await conn.execute(
        "SELECT r.credential_id FROM import_rows r JOIN imports i USING (import_id)"
        " WHERE i.organisation_id = %s AND r.holder_id = %s AND r.media IS NOT NULL"
        " AND (r.row_number > i.sent_through OR r.refused_at IS NOT NULL)",
        (org, person),
    )
    prefixes = [
        credential_prefix(org, credential_id) for (credential_id,) in await cursor.fetchall()
    ]
    rows = await row_count(
        conn,
        "UPDATE import_rows r SET certification_number = NULL, issuer = NULL, notes = NULL,"
        " media_file = NULL, media = NULL FROM imports i WHERE i.import_id = r.import_id"
        " AND i.organisation_id = %s AND r.holder_id = %s",
        (org, person),
    )
    uploads = await row_count(
        conn,
        "UPDATE imports SET file_name = %s WHERE organisation_id = %s AND uploaded_by = %s",
        (ERASED_FILE_NAME, org, person),
    )
    await queue_files(conn, SERVICE, erased, prefixes,
                      {"import_rows": rows, "import_file_names": uploads})  # fmt: skip


def directory_consumer(topic_prefix: str = "") -> ConsumerSpec:
    """The directory replica, with the importer's part of an erasure."""
    return directory_replica.replica_consumer("importer", topic_prefix, erase)
