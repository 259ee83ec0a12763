"""The reminder service's SQL: the schedule (one row per credential, kept from
`credflow.credentials`) and the holders' notification settings it is computed with.

A batch of credential events (an import brings thousands) is folded per credential in memory
and written back with one statement; `next_due_on` is the first local date anything may fall
due for the credential's current version and expiry date (the scheduler works out the rest).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from credflow_common.bulk import Column, arrays, unnest
from credflow_reminder import domain
from credflow_reminder.domain import NotificationSettings, Tracked

Conn = AsyncConnection[Any]

COLUMNS = (
    "credential_id, organisation_id, holder_id, credential_type_id, version_id, expires_on,"
    " standing, review, expired_version_id"
)


async def load(conn: Conn, credential_ids: Sequence[UUID]) -> dict[UUID, Tracked]:
    """The rows, locked until the batch commits: a scheduler tick that is publishing
    CredentialExpired for one of them (and recording it in `expired_version_id`) finishes
    first, so the batch's upsert never writes back a stale row over the tick's."""
    cursor = await conn.execute(
        f"SELECT {COLUMNS} FROM schedule WHERE credential_id = ANY(%s)"  # noqa: S608
        " ORDER BY credential_id FOR UPDATE",
        (list(credential_ids),),
    )
    return {row[0]: Tracked(*row) for row in await cursor.fetchall()}


SCHEDULE_COLUMNS: tuple[Column[tuple[Tracked, date | None]], ...] = (
    Column("credential_id", "uuid", lambda row: row[0].credential_id),
    Column("organisation_id", "uuid", lambda row: row[0].organisation_id),
    Column("holder_id", "uuid", lambda row: row[0].holder_id),
    Column("credential_type_id", "uuid", lambda row: row[0].credential_type_id),
    Column("version_id", "uuid", lambda row: row[0].version_id),
    Column("expires_on", "date", lambda row: row[0].expires_on),
    Column("standing", "text", lambda row: row[0].standing),
    Column("review", "text", lambda row: row[0].review),
    Column("expired_version_id", "uuid", lambda row: row[0].expired_version_id),
    Column("next_due_on", "date", lambda row: row[1]),
)  # a credential and its first due date


async def save(conn: Conn, credentials: Sequence[Tracked]) -> None:
    """Upsert the credentials' rows, each with its first due date under its holder's settings."""
    if not credentials:
        return
    settings = await settings_of(conn, {(c.organisation_id, c.holder_id) for c in credentials})
    rows = [(c, domain.first_due_on(c, _settings(settings, c).lead_days)) for c in credentials]
    await conn.execute(
        f"INSERT INTO schedule ({COLUMNS}, next_due_on)"  # noqa: S608
        f" SELECT * FROM {unnest(SCHEDULE_COLUMNS, 's')}"
        " ON CONFLICT (credential_id) DO UPDATE SET version_id = EXCLUDED.version_id,"
        " holder_id = EXCLUDED.holder_id, credential_type_id = EXCLUDED.credential_type_id,"
        " expires_on = EXCLUDED.expires_on, standing = EXCLUDED.standing,"
        " review = EXCLUDED.review, expired_version_id = EXCLUDED.expired_version_id,"
        " next_due_on = EXCLUDED.next_due_on, updated_at = now()",
        arrays(SCHEDULE_COLUMNS, rows),
    )


def _settings(
    settings: dict[tuple[UUID, UUID], NotificationSettings], credential: Tracked
) -> NotificationSettings:
    return settings.get((credential.organisation_id, credential.holder_id), NotificationSettings())


async def settings_of(
    conn: Conn, people: Iterable[tuple[UUID, UUID]]
) -> dict[tuple[UUID, UUID], NotificationSettings]:
    """Stored settings of (organisation, user) pairs; those never set are left out (defaults)."""
    pairs = list(people)
    if not pairs:
        return {}
    cursor = await conn.execute(
        "SELECT s.organisation_id, s.user_id, s.enabled, s.lead_days, s.copy_manager"
        " FROM notification_settings s"
        " JOIN unnest(%s::uuid[], %s::uuid[]) AS p (organisation_id, user_id)"
        " USING (organisation_id, user_id)",
        ([org for org, _ in pairs], [user for _, user in pairs]),
    )
    return {
        (org, user): NotificationSettings(enabled, tuple(lead_days), copy_manager)
        for org, user, enabled, lead_days, copy_manager in await cursor.fetchall()
    }


async def reschedule_holder(conn: Conn, org: UUID, holder_id: UUID) -> None:
    """After a change of settings: every credential of the holder is looked at again."""
    cursor = await conn.execute(
        f"SELECT {COLUMNS} FROM schedule"  # noqa: S608
        " WHERE organisation_id = %s AND holder_id = %s",
        (org, holder_id),
    )
    await save(conn, [Tracked(*row) for row in await cursor.fetchall()])


async def save_settings(
    conn: Conn, org: UUID, user_id: UUID, settings: NotificationSettings, updated_by: UUID
) -> None:
    await conn.execute(
        "INSERT INTO notification_settings (organisation_id, user_id, enabled, lead_days,"
        " copy_manager, updated_by) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (organisation_id, user_id) DO UPDATE SET enabled = EXCLUDED.enabled,"
        " lead_days = EXCLUDED.lead_days, copy_manager = EXCLUDED.copy_manager,"
        " updated_by = EXCLUDED.updated_by, updated_at = now()",
        (org, user_id, settings.enabled, list(settings.lead_days), settings.copy_manager,
         updated_by),
    )  # fmt: skip
