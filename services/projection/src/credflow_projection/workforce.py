"""The views' SQL about people: workers (with compliance held as `compliant_until`), what each
worker is required to hold and whether they meet it, companies with their compliance counts,
and who a manager manages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.rows import dict_row

from credflow_common.db import contains_pattern
from credflow_projection.cursors import ID, TEXT, SortKey, after, page_of
from credflow_projection.queries import Conn, Organisation, Page, Row, Scope

REQUIREMENT_STATES = """
    WITH req AS (
        SELECT user_id, credential_type_id FROM required_types
        WHERE organisation_id = %(org)s AND user_id = ANY(%(users)s)
    ),
    held AS (
        SELECT h.holder_id, h.type_id,
               bool_or(meets_requirement(h.lifecycle, h.review)
                       AND (h.expires_on IS NULL OR h.expires_on >= %(today)s)) AS met
        FROM held_types(%(org)s, %(users)s) h
        GROUP BY h.holder_id, h.type_id
    )
    SELECT req.user_id, req.credential_type_id, t.name AS credential_type_name, held.met
    FROM req
    LEFT JOIN held ON held.holder_id = req.user_id AND held.type_id = req.credential_type_id
    LEFT JOIN credential_types t ON t.organisation_id = %(org)s
        AND t.credential_type_id = req.credential_type_id
    ORDER BY req.user_id, lower(t.name)
"""


@dataclass
class WorkerCompliance:
    compliant: bool = True
    requirements: list[Row] = field(default_factory=list)


async def compliance(
    conn: Conn, org: Organisation, users: Sequence[UUID], today: date
) -> dict[UUID, WorkerCompliance]:
    """Per worker: each required type as `met`, `not_met` (held but not verified/submitted or
    expired) or `required` (no credential of that type at all: a virtual row)."""
    result = {user: WorkerCompliance() for user in users}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            REQUIREMENT_STATES,
            {"org": org.organisation_id, "users": list(users), "today": today},
        )
        for row in await cur.fetchall():
            met = row.pop("met")
            state = "required" if met is None else "met" if met else "not_met"
            worker = result[row.pop("user_id")]
            worker.requirements.append({**row, "state": state})
            worker.compliant = worker.compliant and state == "met"
    return result


WORKER = "p.status = 'active' AND 'worker' = ANY(p.roles)"  # as the partial indexes say


WORKER_KEYS = (SortKey("lower(p.name)", TEXT, "sort_name"), SortKey("p.user_id", ID, "user_id"))


async def workers(
    conn: Conn,
    org: Organisation,
    scope: Scope,
    company_id: UUID | None,
    text: str | None,
    *,
    limit: int,
    cursor: str | None,
    today: date,
    compliant: bool | None = None,
) -> Page:
    """Active workers ordered by name, with their company and whether they are compliant
    today (`compliant_until`, kept by `derived.py`)."""
    params: dict[str, Any] = {"org": org.organisation_id, "limit": limit + 1, "today": today}
    conditions = ["p.organisation_id = %(org)s", WORKER]
    if not scope.everyone:
        params["scope"] = list(scope.holder_ids)
        conditions.append("p.user_id = ANY(%(scope)s)")
    if company_id is not None:
        params["company_id"] = company_id
        conditions.append("p.company_id = %(company_id)s")
    if text:
        params["text"] = contains_pattern(text).lower()
        conditions.append("lower(p.name || ' ' || p.email) LIKE %(text)s")
    if compliant is not None:
        conditions.append(f"p.compliant_until {'>=' if compliant else '<'} %(today)s")
    if cursor is not None:
        conditions.append(after(WORKER_KEYS, cursor, params))
    query = (  # constant fragments; values are parameters
        "SELECT p.user_id, p.name, p.email, p.company_id, co.name AS company_name,"  # noqa: S608
        " p.manager_id, p.compliant_until >= %(today)s AS compliant,"
        " lower(p.name) AS sort_name FROM people p"
        " LEFT JOIN companies co ON co.organisation_id = p.organisation_id"
        " AND co.company_id = p.company_id WHERE "
        + " AND ".join(conditions)
        + " ORDER BY lower(p.name), p.user_id LIMIT %(limit)s"
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql.SQL(query).format(), params)
        rows = await cur.fetchall()
    rows, next_cursor = page_of(rows, limit, WORKER_KEYS)
    for row in rows:
        row.pop("sort_name")
    return Page(rows, next_cursor)


async def person(conn: Conn, org: UUID, user_id: UUID) -> Row | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT p.user_id, p.name, p.email, p.status, p.company_id,"
            " co.name AS company_name, p.manager_id FROM people p"
            " LEFT JOIN companies co ON co.organisation_id = p.organisation_id"
            " AND co.company_id = p.company_id"
            " WHERE p.organisation_id = %s AND p.user_id = %s",
            (org, user_id),
        )
        return await cur.fetchone()


async def managees(conn: Conn, org: UUID, manager_id: UUID) -> list[UUID]:
    cursor = await conn.execute(
        "SELECT user_id FROM people WHERE organisation_id = %s AND manager_id = %s",
        (org, manager_id),
    )
    return [row[0] for row in await cursor.fetchall()]


async def companies(conn: Conn, org: Organisation, scope: Scope, today: date) -> list[Row]:
    """Each company with its active workers and how many of them are compliant today."""
    params: dict[str, Any] = {"org": org.organisation_id, "today": today}
    scoped = ""
    if not scope.everyone:
        params["scope"] = list(scope.holder_ids)
        scoped = " AND p.user_id = ANY(%(scope)s)"
    query = (  # constant fragments; values are parameters
        "SELECT co.company_id, co.name, co.archived, count(p.user_id) AS workers,"  # noqa: S608
        " count(p.user_id) FILTER (WHERE p.compliant_until >= %(today)s) AS compliant,"
        " count(p.user_id) FILTER (WHERE p.compliant_until < %(today)s) AS not_compliant"
        " FROM companies co LEFT JOIN people p ON p.organisation_id = co.organisation_id"
        " AND p.company_id = co.company_id AND " + WORKER + scoped +
        " WHERE co.organisation_id = %(org)s"
        " GROUP BY co.company_id, co.name, co.archived ORDER BY lower(co.name), co.company_id"
    )  # fmt: skip
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql.SQL(query).format(), params)
        return await cur.fetchall()


async def company(conn: Conn, org: UUID, company_id: UUID) -> Row | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT company_id, name, archived FROM companies"
            " WHERE organisation_id = %s AND company_id = %s",
            (org, company_id),
        )
        return await cur.fetchone()
