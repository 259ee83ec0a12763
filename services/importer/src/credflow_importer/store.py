"""The importer's tables (`imports`, `import_rows`) and the directory replica it reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from credflow_common.directory_replica import DirectoryReplica
from credflow_contracts.events.directory import (
    CredentialTypeState,
    DateFormat,
    OrganisationSettings,
)
from credflow_contracts.events.values import MediaFile
from credflow_importer import domain
from credflow_importer.csvfile import Directory, KnownType, KnownUser, Validation

Conn = AsyncConnection[Any]
FINISHING_CHANNEL = "importer_finishing"  # wakes every instance's finisher


REPLICA = DirectoryReplica()


@dataclass(frozen=True)
class Uploader:
    user_id: UUID
    date_format: DateFormat  # their profile's, else the organisation's
    settings: OrganisationSettings


async def uploader(conn: Conn, org: UUID, user_id: UUID) -> Uploader | None:
    """None when the replica has not heard of the organisation yet."""
    settings = await REPLICA.settings(conn, org)
    if settings is None:
        return None
    user = await REPLICA.user(conn, org, user_id)
    return Uploader(user_id, (user and user.date_format) or settings.default_date_format, settings)


@dataclass(frozen=True)
class Facts:
    directory: Directory
    settings: OrganisationSettings
    types: dict[UUID, CredentialTypeState]

    def approval_required(self, type_ids: set[UUID]) -> bool:
        """Whether any of these types' credentials wait for a reviewer."""
        return any(
            self.settings.validation_required
            if self.types[t].validation_required is None
            else self.types[t].validation_required
            for t in type_ids
        )


async def directory_facts(
    conn: Conn, org: UUID, settings: OrganisationSettings, emails: set[str]
) -> Facts:
    """The users with these (lower-cased) emails and the organisation's credential types."""
    types = await REPLICA.credential_types(conn, org)
    users = {
        user.email.lower(): KnownUser(user.user_id, user.status == "active")
        for user in await REPLICA.users_by_email(conn, org, emails)
    }
    by_name = {
        t.name.lower(): KnownType(
            t.credential_type_id,
            t.name,
            t.expires,
            t.default_validity_months,
            t.archived,
            t.media_required,
        )
        for t in types
    }
    return Facts(Directory(users, by_name), settings, {t.credential_type_id: t for t in types})


# -- jobs ---------------------------------------------------------------------------------


async def create(
    conn: Conn,
    import_id: UUID,
    org: UUID,
    by: Uploader,
    file_name: str,
    *,
    validation: Validation,
    approval_required: bool,
) -> None:
    await conn.execute(
        "INSERT INTO imports (import_id, organisation_id, uploaded_by, file_name, date_format,"
        " status, approval_required, rows_total, problems)"
        " VALUES (%s, %s, %s, %s, %s, 'draft', %s, %s, %s)",
        (import_id, org, by.user_id, file_name, by.date_format, approval_required,
         validation.rows_total, _problems(validation)),
    )  # fmt: skip
    await _copy_rows(conn, import_id, validation)


async def replace(
    conn: Conn,
    import_id: UUID,
    file_name: str,
    date_format: DateFormat,
    *,
    validation: Validation,
    approval_required: bool,
) -> None:
    await conn.execute("DELETE FROM import_rows WHERE import_id = %s", (import_id,))  # and media
    await conn.execute(
        "UPDATE imports SET file_name = %s, date_format = %s, approval_required = %s,"
        " rows_total = %s, problems = %s, uploads = uploads + 1, updated_at = now()"
        " WHERE import_id = %s",
        (file_name, date_format, approval_required, validation.rows_total,
         _problems(validation), import_id),
    )  # fmt: skip
    await _copy_rows(conn, import_id, validation)


def _problems(validation: Validation) -> Jsonb:
    return Jsonb([problem.as_dict() for problem in validation.problems])


async def _copy_rows(conn: Conn, import_id: UUID, validation: Validation) -> None:
    async with (
        conn.cursor() as cursor,
        cursor.copy(
            "COPY import_rows (import_id, row_number, credential_id, holder_id, credential_type_id,"
            " issued_on, expires_on, certification_number, issuer, notes, media_file,"
            " media_required) FROM STDIN"
        ) as copy,
    ):
        for row in validation.valid:
            await copy.write_row((
                import_id, row.row, domain.credential_id_for(import_id, row.row), row.holder_id,
                row.credential_type_id, row.issued_on, row.expires_on, row.certification_number,
                row.issuer, row.notes, row.media_file, row.media_required,
            ))  # fmt: skip


@dataclass(frozen=True)
class ImportState:
    import_id: UUID
    organisation_id: UUID
    uploaded_by: UUID
    file_name: str
    date_format: DateFormat
    status: domain.Status
    media_optional: bool
    approval_required: bool
    rows_total: int
    problems: list[dict[str, Any]]
    uploads: int
    stream_version: int
    created_at: datetime
    finish_requested_at: datetime | None
    completed_at: datetime | None
    valid_rows: int
    rows_sent: int
    rows_applied: int
    rows_refused: int
    refused: list[dict[str, Any]]
    rows_missing_media: list[int]

    @property
    def file_rejected(self) -> bool:
        return any(problem["row"] is None for problem in self.problems)

    @property
    def job(self) -> domain.Job:
        return domain.Job(
            self.status,
            self.valid_rows,
            len(self.rows_missing_media),
            self.media_optional,
            self.file_rejected,
        )

    def report(self) -> dict[str, Any]:
        rejected = {p["row"] for p in self.problems if p["row"] is not None}
        return {
            "import_id": str(self.import_id),
            "status": self.status,
            "file_name": self.file_name,
            "date_format": self.date_format,
            "uploaded_by": str(self.uploaded_by),
            "uploads": self.uploads,
            "rows_total": self.rows_total,
            "valid_rows": self.valid_rows,
            "rejected_rows": len(rejected),
            "file_rejected": self.file_rejected,
            "problems": self.problems,
            "media": {
                "optional": self.media_optional,
                "rows_missing": self.rows_missing_media,
            },
            "approval_required": self.approval_required,
            "progress": {
                "rows_sent": self.rows_sent,
                "rows_applied": self.rows_applied,
                "rows_refused": self.rows_refused,
            },
            "refused": self.refused,
            "created_at": self.created_at.isoformat(),
            "finish_requested_at": _iso(self.finish_requested_at),
            "completed_at": _iso(self.completed_at),
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


_STATE = """
SELECT i.import_id, i.organisation_id, i.uploaded_by, i.file_name, i.date_format, i.status,
       i.media_optional, i.approval_required, i.rows_total, i.problems, i.uploads,
       i.stream_version, i.created_at, i.finish_requested_at, i.completed_at,
       count(r.row_number)::int AS valid_rows, i.rows_sent,
       coalesce(p.rows_applied, 0) AS rows_applied, coalesce(p.rows_refused, 0) AS rows_refused,
       coalesce(jsonb_agg(jsonb_build_object('row', r.row_number, 'column', r.refused_column,
                                             'message', r.refusal) ORDER BY r.row_number)
                FILTER (WHERE r.refused_at IS NOT NULL), '[]') AS refused,
       coalesce(array_agg(r.row_number ORDER BY r.row_number)
                FILTER (WHERE r.media_required AND r.media IS NULL), '{}') AS rows_missing_media
FROM imports i LEFT JOIN import_rows r USING (import_id)
     LEFT JOIN import_progress p USING (import_id)
"""


async def get(
    conn: Conn, org: UUID, import_id: UUID, *, for_update: bool = False
) -> ImportState | None:
    if for_update:  # serialises commands on one import (finish, re-upload, completion)
        await conn.execute(
            "SELECT 1 FROM imports WHERE import_id = %s AND organisation_id = %s FOR UPDATE",
            (import_id, org),
        )
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        _STATE + " WHERE i.import_id = %s AND i.organisation_id = %s"
        " GROUP BY i.import_id, p.import_id",
        (import_id, org),
    )
    row = await cursor.fetchone()
    return ImportState(**row) if row else None


async def list_for(conn: Conn, org: UUID, limit: int = 100) -> list[ImportState]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        _STATE + " WHERE i.organisation_id = %s GROUP BY i.import_id, p.import_id"
        " ORDER BY i.created_at DESC LIMIT %s",
        (org, limit),
    )
    return [ImportState(**row) for row in await cursor.fetchall()]


async def rows_by_media_file(conn: Conn, import_id: UUID) -> dict[str, list[tuple[int, UUID]]]:
    """(row, credential id) of the rows naming each file, by lower-cased file name."""
    cursor = await conn.execute(
        "SELECT lower(media_file), row_number, credential_id FROM import_rows"
        " WHERE import_id = %s AND media_file IS NOT NULL ORDER BY row_number",
        (import_id,),
    )
    wanted: dict[str, list[tuple[int, UUID]]] = {}
    for name, number, credential_id in await cursor.fetchall():
        wanted.setdefault(name, []).append((number, credential_id))
    return wanted


async def attach_media(conn: Conn, import_id: UUID, row_number: int, media: MediaFile) -> None:
    await conn.execute(
        "UPDATE import_rows SET media = %s WHERE import_id = %s AND row_number = %s",
        (Jsonb(media.model_dump(mode="json")), import_id, row_number),
    )


async def set_media_optional(conn: Conn, import_id: UUID, optional: bool) -> None:
    await conn.execute(
        "UPDATE imports SET media_optional = %s, updated_at = now() WHERE import_id = %s",
        (optional, import_id),
    )


async def start_finishing(conn: Conn, import_id: UUID) -> None:
    await conn.execute(
        "UPDATE imports SET status = 'finishing', finish_requested_at = now(), updated_at = now()"
        " WHERE import_id = %s",
        (import_id,),
    )
    await conn.execute(
        "INSERT INTO import_progress (import_id, rows_valid)"
        " SELECT %(import)s, count(*) FROM import_rows WHERE import_id = %(import)s",
        {"import": import_id},
    )
    await conn.execute("SELECT pg_notify(%s, %s)", (FINISHING_CHANNEL, str(import_id)))


def stream_id(import_id: UUID) -> str:
    """The import's stream of SubmitCredential commands (the internal commands topic)."""
    return f"import-{import_id}"


def completion_stream_id(import_id: UUID) -> str:
    """The stream of the import's one public event, ImportCompleted, at version 1: a stream's
    events are published on one topic, so a subscriber sees its versions without gaps."""
    return f"import-completed-{import_id}"
