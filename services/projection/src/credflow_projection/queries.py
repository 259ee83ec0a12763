"""The views' SQL. Every query is scoped to one organisation and to the holders the caller may
see (`Scope`), and works statuses out at query time with `credential_status(..., today)`, where
`today` is the organisation's date in its time zone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from credflow_common.auth import Standing
from credflow_common.db import contains_pattern
from credflow_projection.cursors import ID, TEXT, SortKey, after, page_of

Conn = AsyncConnection[Any]
Row = dict[str, Any]
STATUSES = (
    "pending", "verified", "submitted", "not_accepted", "expired", "required", "revoked",
    "suspended",
)  # fmt: skip


@dataclass(frozen=True)
class Scope:
    """Whose credentials a caller may see: everyone in the organisation, or these holders."""

    everyone: bool
    holder_ids: frozenset[UUID] = frozenset()


@dataclass(frozen=True)
class Organisation:
    organisation_id: UUID
    time_zone: str
    expiring_soon_days: int

    def today(self, now: datetime) -> date:
        return now.astimezone(ZoneInfo(self.time_zone)).date()


async def organisation(conn: Conn, org: UUID) -> Organisation:
    cursor = await conn.execute(
        "SELECT time_zone, expiring_soon_days FROM organisations WHERE organisation_id = %s",
        (org,),
    )
    row = await cursor.fetchone()
    return Organisation(org, row[0], row[1]) if row else Organisation(org, "UTC", 30)


async def person_standing(conn: Conn, org: UUID, user_id: UUID) -> Standing | None:
    """A person's status, roles and permissions (the service definition's `user_standing`)."""
    cursor = await conn.execute(
        "SELECT status, roles, permissions FROM people WHERE organisation_id = %s AND user_id = %s",
        (org, user_id),
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    status, roles, permissions = row
    known = None if permissions is None else frozenset(permissions)
    return Standing(status, frozenset(roles), known)


@dataclass
class CredentialFilters:
    statuses: Sequence[str] = ()
    credential_type_id: UUID | None = None
    company_id: UUID | None = None
    holder_id: UUID | None = None
    expiring_within_days: int | None = None
    text: str | None = None


@dataclass
class Page:
    items: list[Row]
    next_cursor: str | None


CREDENTIAL_COLUMNS = """
    c.credential_id, c.holder_id, c.holder_name, c.holder_email, c.company_id, c.company_name,
    c.credential_type_id, c.type_name AS credential_type_name,
    credential_status(c.lifecycle, c.review, c.expires_on, %(today)s) AS status,
    (c.lifecycle = 'active' AND c.expires_on BETWEEN %(today)s AND %(soon)s) AS expiring_soon,
    c.version_number, c.title, c.issued_on, c.expires_on, c.certification_number, c.issuer_name,
    c.lifecycle_reason, c.internal_equivalent_id, c.import_id, c.created_at, c.updated_at,
    lower(c.holder_name) AS sort_name, lower(c.type_name) AS sort_type
"""
# Every credential carries its labels (derived.py), so no list joins another table.
CREDENTIAL_FROM = " FROM credentials c"
# The list's order, which the indexes of migration 0603 supply for every filter.
CREDENTIAL_ORDER = " ORDER BY lower(c.holder_name), lower(c.type_name), c.credential_id"
# Each status as a condition an index can serve: `family` is stored, and only expiry (for the
# `valid` family: verified and submitted) is judged against today.
STATUS_CONDITIONS = {
    "pending": "c.family = 'pending'",
    "not_accepted": "c.family = 'not_accepted'",
    "revoked": "c.family = 'revoked'",
    "suspended": "c.family = 'suspended'",
    "expired": "c.family = 'valid' AND c.expires_on < %(today)s",
    "verified": "c.family = 'valid' AND c.review = 'verified'"
    " AND (c.expires_on IS NULL OR c.expires_on >= %(today)s)",
    "submitted": "c.family = 'valid' AND c.review = 'submitted'"
    " AND (c.expires_on IS NULL OR c.expires_on >= %(today)s)",
}


def _credential_query(
    org: Organisation, scope: Scope, filters: CredentialFilters, today: date
) -> tuple[sql.Composed, dict[str, Any]]:
    where, params = credential_conditions(org, scope, filters, today)
    query = sql.SQL("SELECT " + CREDENTIAL_COLUMNS + CREDENTIAL_FROM + " WHERE " + where)
    return query.format(), params


def credential_conditions(
    org: Organisation, scope: Scope, filters: CredentialFilters, today: date
) -> tuple[str, dict[str, Any]]:
    """The WHERE clause (over CREDENTIAL_FROM) of the credentials `scope` and `filters` pick,
    and its parameters: constant fragments, values as parameters."""
    params: dict[str, Any] = {
        "org": org.organisation_id,
        "today": today,
        "soon": today + timedelta(days=org.expiring_soon_days),
    }
    conditions = ["c.organisation_id = %(org)s"]
    if not scope.everyone:
        params["scope"] = list(scope.holder_ids)
        conditions.append("c.holder_id = ANY(%(scope)s)")
    if filters.statuses:
        chosen = [STATUS_CONDITIONS[s] for s in dict.fromkeys(filters.statuses)]
        conditions.append("(" + " OR ".join(f"({c})" for c in chosen) + ")")
    for name, column in (
        ("credential_type_id", "c.credential_type_id"),
        ("company_id", "c.company_id"),
        ("holder_id", "c.holder_id"),
    ):
        if getattr(filters, name) is not None:
            params[name] = getattr(filters, name)
            conditions.append(f"{column} = %({name})s")
    if filters.expiring_within_days is not None:
        params["expiring_by"] = today + timedelta(days=filters.expiring_within_days)
        conditions.append(
            "c.lifecycle = 'active' AND c.expires_on BETWEEN %(today)s AND %(expiring_by)s"
        )
    if filters.text:
        params["text"] = contains_pattern(filters.text).lower()
        conditions.append("c.search_text LIKE %(text)s")
    return " AND ".join(conditions), params


CREDENTIAL_KEYS = (
    SortKey("lower(c.holder_name)", TEXT, "sort_name"),
    SortKey("lower(c.type_name)", TEXT, "sort_type"),
    SortKey("c.credential_id", ID, "credential_id"),
)  # as CREDENTIAL_ORDER sorts


async def credentials(
    conn: Conn,
    org: Organisation,
    scope: Scope,
    filters: CredentialFilters,
    *,
    today: date,
    limit: int,
    cursor: str | None,
) -> Page:
    """Worker credentials, ordered by holder name, type name, credential id; keyset paging."""
    query, params = _credential_query(org, scope, filters, today)
    if cursor is not None:
        query = sql.SQL("{} AND " + after(CREDENTIAL_KEYS, cursor, params)).format(query)
    query = sql.SQL("{}" + CREDENTIAL_ORDER + " LIMIT %(limit)s").format(query)
    params["limit"] = limit + 1
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        rows = await cur.fetchall()
    rows, next_cursor = page_of(rows, limit, CREDENTIAL_KEYS)
    return Page([_public(row) for row in rows], next_cursor)


EXPORT_COLUMNS = (
    ("credential_id", "c.credential_id"),
    ("holder_name", "spreadsheet_safe(c.holder_name)"),
    ("holder_email", "spreadsheet_safe(c.holder_email)"),
    ("company_name", "spreadsheet_safe(c.company_name)"),
    ("credential_type_name", "spreadsheet_safe(c.type_name)"),
    ("title", "spreadsheet_safe(c.title)"),
    ("status", "credential_status(c.lifecycle, c.review, c.expires_on, %(today)s)"),
    ("expiring_soon", "CASE WHEN c.lifecycle = 'active' AND c.expires_on BETWEEN %(today)s"
                      " AND %(soon)s THEN 'True' ELSE 'False' END"),
    ("version_number", "c.version_number"),
    ("issued_on", "c.issued_on"),
    ("expires_on", "c.expires_on"),
    ("certification_number", "spreadsheet_safe(c.certification_number)"),
    ("issuer_name", "spreadsheet_safe(c.issuer_name)"),
    ("lifecycle_reason", "spreadsheet_safe(c.lifecycle_reason)"),
)  # fmt: skip


EXPORT_CHUNK_BYTES = 64 * 1024


async def export_credentials(
    conn: Conn, org: Organisation, scope: Scope, filters: CredentialFilters, today: date
) -> AsyncIterator[bytes]:
    """Every matching credential as CSV (header first), in the list's order, straight from
    PostgreSQL's COPY: the index supplies the order, so the first rows leave at once and
    nothing is held in memory."""
    where, params = credential_conditions(org, scope, filters, today)
    columns = ", ".join(expression for _, expression in EXPORT_COLUMNS)
    query = ("COPY (SELECT " + columns + CREDENTIAL_FROM + " WHERE " + where
             + CREDENTIAL_ORDER + ") TO STDOUT (FORMAT csv)")  # fmt: skip
    yield (",".join(name for name, _ in EXPORT_COLUMNS) + "\n").encode()
    buffer = bytearray()
    async with conn.cursor() as cursor, cursor.copy(query, params) as copy:
        # COPY hands out a row at a time; the client gets them in pieces of about 64 KiB.
        while row := await copy.read():
            buffer += row
            if len(buffer) >= EXPORT_CHUNK_BYTES:
                yield bytes(buffer)
                buffer.clear()
    yield bytes(buffer)


async def credentials_by_holder(
    conn: Conn, org: Organisation, holder_ids: Sequence[UUID], today: date
) -> dict[UUID, list[Row]]:
    """Every credential of these holders, in one query, in the worker view's order."""
    query, params = _credential_query(
        org, Scope(everyone=False, holder_ids=frozenset(holder_ids)), CredentialFilters(), today
    )
    query = sql.SQL("{}" + CREDENTIAL_ORDER).format(query)
    held: dict[UUID, list[Row]] = {holder_id: [] for holder_id in holder_ids}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        for row in await cur.fetchall():
            held[row["holder_id"]].append(_public(row))
    return held


def _public(row: Row) -> Row:
    row.pop("sort_name", None)
    row.pop("sort_type", None)
    return row


async def credential_detail(
    conn: Conn, org: Organisation, credential_id: UUID, today: date
) -> Row | None:
    query, params = _credential_query(org, Scope(everyone=True), CredentialFilters(), today)
    params["credential_id"] = credential_id
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql.SQL("{} AND c.credential_id = %(credential_id)s").format(query),
                          params)  # fmt: skip
        row = await cur.fetchone()
        if row is None:
            return None
        detail = _public(row)
        await cur.execute(
            "SELECT version_id, version_number, title, issued_on, expires_on, certification_number,"
            " certification, issuer, notes, review, review_comment, reviewed_by, reviewed_at,"
            " created_by, created_at, import_id FROM credential_versions"
            " WHERE credential_id = %s ORDER BY version_number DESC",
            (credential_id,),
        )
        versions = await cur.fetchall()
        await cur.execute(
            "SELECT media_id, version_id, file_name, kind, content_type, size_bytes, sha256,"
            " attached_by, attached_at FROM credential_media WHERE credential_id = %s"
            " ORDER BY attached_at, media_id",
            (credential_id,),
        )
        media = await cur.fetchall()
        await cur.execute(
            "SELECT review_id, version_id, version_number, routing, reviewer_ids, requested_at,"
            " state, claimed_by, claimed_at, decided_by, decided_at, comment FROM review_items"
            " WHERE credential_id = %s ORDER BY requested_at, review_id",
            (credential_id,),
        )
        reviews = await cur.fetchall()
        await cur.execute(
            "SELECT a.event_id, a.occurred_at, a.action, a.actor_id, p.name AS actor_name,"
            " a.version_id, a.import_id, a.detail FROM audit a"
            " LEFT JOIN people p ON p.organisation_id = a.organisation_id"
            " AND p.user_id = a.actor_id"
            " WHERE a.credential_id = %s AND a.organisation_id = %s"
            " ORDER BY a.occurred_at, a.event_id",
            (credential_id, org.organisation_id),
        )
        audit = await cur.fetchall()
    for version in versions:
        version["media"] = [m for m in media if m["version_id"] == version["version_id"]]
        version["reviews"] = [r for r in reviews if r["version_id"] == version["version_id"]]
    return {**detail, "versions": versions, "audit": audit}
