"""The dashboard's figures in one read: credentials by status and expiring within 30, 60 and
90 days (the caller's scope, with the credential list's filters, so each figure equals the
length of the list it links to), each company's compliance, and the review queue's size and
age."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.rows import dict_row

from credflow_projection import queries
from credflow_projection.queries import (
    CREDENTIAL_FROM,
    Conn,
    CredentialFilters,
    Organisation,
    Scope,
    credential_conditions,
)

EXPIRING_WINDOWS = (30, 60, 90)


async def summary(
    conn: Conn, org: Organisation, scope: Scope, filters: CredentialFilters, *, today: date,
    reviewer_id: UUID | None,
) -> dict[str, Any]:  # fmt: skip
    """`reviewer_id`: the queue routed to that person; None: every open item."""
    where, params = credential_conditions(org, scope, filters, today)
    windows = ", ".join(
        f"coalesce(sum(g.n) FILTER (WHERE g.lifecycle = 'active'"
        f" AND g.expires_on BETWEEN %(today)s AND %(today)s + {days}), 0)::bigint"
        f" AS within_{days}"
        for days in EXPIRING_WINDOWS
    )
    # Counted by the facts a status is made of (an index-only scan of `credentials_facts`
    # when no filter narrows it), then each group's status worked out once.
    query = sql.SQL(  # constant fragments; values are parameters
        "SELECT credential_status(g.lifecycle, g.review, g.expires_on, %(today)s) AS status,"  # noqa: S608
        " sum(g.n)::bigint AS credentials, " + windows + " FROM (SELECT c.lifecycle, c.review,"
        " c.expires_on, count(*) AS n" + CREDENTIAL_FROM + " WHERE " + where
        + " GROUP BY 1, 2, 3) g GROUP BY 1"
    ).format()  # fmt: skip
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        rows = await cur.fetchall()
    statuses = {s: 0 for s in queries.STATUSES if s != "required"}
    expiring = dict.fromkeys(EXPIRING_WINDOWS, 0)
    for row in rows:
        statuses[row["status"]] = statuses.get(row["status"], 0) + row["credentials"]
        for days in EXPIRING_WINDOWS:
            expiring[days] += row[f"within_{days}"]
    return {
        "statuses": statuses,
        "expiring": {str(days): count for days, count in expiring.items()},
        "queue": await _queue(conn, org.organisation_id, reviewer_id),
    }


async def _queue(conn: Conn, org: UUID, reviewer_id: UUID | None) -> dict[str, Any]:
    mine = "" if reviewer_id is None else " AND %(me)s = ANY(reviewer_ids)"
    cursor = await conn.execute(
        "SELECT count(*), min(requested_at) FROM review_items"  # noqa: S608 - constant fragment
        " WHERE organisation_id = %(org)s AND state = 'open'" + mine,
        {"org": org, "me": reviewer_id},
    )
    row = await cursor.fetchone()
    count, oldest = (row[0], row[1]) if row else (0, None)
    return {"open": count, "oldest_requested_at": oldest.isoformat() if oldest else None,
            "oldest_age_hours": _hours_since(oldest)}  # fmt: skip


def _hours_since(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return round((datetime.now(UTC) - moment).total_seconds() / 3600, 1)
