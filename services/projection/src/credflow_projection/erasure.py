"""Erased people in the views (ADR 0017): a `PersonErased` records the person in
`erased_people`; at the end of every batch that touches them (their profile, or a credential
of theirs), their name shows as "Erased person" and their credentials keep only what counts
(type, dates, statuses): titles, numbers, issuers, notes, reviewers' comments, lifecycle
reasons, file names and the audit's details are forgotten. The rebuild does the same once, for
everyone erased, after its replay."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

Conn = AsyncConnection[Any]
ERASED_NAME = "Erased person"
ERASED_FILE = "erased"

_FORGET = [
    "UPDATE people SET name = %(name)s, email = ''"
    " WHERE user_id = ANY(%(people)s) AND (name <> %(name)s OR email <> '')",
    "UPDATE credentials SET title = NULL, certification_number = NULL, issuer_name = NULL,"
    " lifecycle_reason = NULL WHERE holder_id = ANY(%(people)s)"
    " AND (title, certification_number, issuer_name, lifecycle_reason) IS DISTINCT FROM"
    " (NULL, NULL, NULL, NULL)",
    "UPDATE credential_versions v SET title = NULL, certification_number = NULL,"
    " certification = NULL, issuer = NULL, notes = NULL, review_comment = NULL"
    " FROM credentials c WHERE c.credential_id = v.credential_id"
    " AND c.holder_id = ANY(%(people)s) AND (v.title, v.certification_number,"
    " v.certification, v.issuer, v.notes, v.review_comment) IS DISTINCT FROM"
    " (NULL, NULL, NULL, NULL, NULL, NULL)",
    "UPDATE credential_media m SET file_name = %(file)s FROM credentials c"
    " WHERE c.credential_id = m.credential_id AND c.holder_id = ANY(%(people)s)"
    " AND m.file_name <> %(file)s",
    "UPDATE audit a SET detail = '{}' FROM credentials c WHERE c.credential_id = a.credential_id"
    " AND c.holder_id = ANY(%(people)s) AND a.detail <> '{}'",
    "UPDATE review_items r SET comment = NULL FROM credentials c"
    " WHERE c.credential_id = r.credential_id AND c.holder_id = ANY(%(people)s)"
    " AND r.comment IS NOT NULL",
    "UPDATE imports SET file_name = %(file)s"
    " WHERE uploaded_by = ANY(%(people)s) AND file_name <> %(file)s",
]


async def record(conn: Conn, org: UUID, user_id: UUID, erased_at: Any) -> None:
    await conn.execute(
        "INSERT INTO erased_people VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
        (org, user_id, erased_at),
    )


async def forget(conn: Conn, candidates: Collection[UUID]) -> set[UUID]:
    """Forget what the views hold of those of `candidates` (people a batch touched) who are
    erased; returns them (their credentials' labels are then stale)."""
    if not candidates:
        return set()
    cursor = await conn.execute(
        "SELECT user_id FROM erased_people WHERE user_id = ANY(%s)", (list(candidates),)
    )
    erased = {row[0] for row in await cursor.fetchall()}
    if erased:
        await _forget(conn, erased)
    return erased


async def forget_everyone_erased(conn: Conn) -> None:
    """After a rebuild's replay: forget what the views hold of everyone erased."""
    cursor = await conn.execute("SELECT user_id FROM erased_people")
    erased = {row[0] for row in await cursor.fetchall()}
    if erased:
        await _forget(conn, erased)


async def _forget(conn: Conn, people: set[UUID]) -> None:
    values = {"people": list(people), "name": ERASED_NAME, "file": ERASED_FILE}
    for statement in _FORGET:
        await conn.execute(statement, values)
