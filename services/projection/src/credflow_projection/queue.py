"""The views' SQL for reviewers: the open review items routed to one of them, oldest first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.rows import dict_row

from credflow_projection.cursors import ID, MOMENT, SortKey, after, page_of
from credflow_projection.queries import Conn, Page


@dataclass(frozen=True)
class QueueFilters:
    credential_type_id: UUID | None = None
    company_id: UUID | None = None
    import_id: UUID | None = None


QUEUE_KEYS = (SortKey("r.requested_at", MOMENT, "requested_at"),
              SortKey("r.review_id", ID, "review_id"))  # fmt: skip


async def review_queue(
    conn: Conn, org: UUID, reviewer_id: UUID, *, limit: int, cursor: str | None,
    chosen: QueueFilters = QueueFilters(),
) -> Page:  # fmt: skip
    """Open items routed to `reviewer_id`, oldest first, with who holds a claim; optionally
    only one type's, one company's workers' or one import's."""
    params: dict[str, Any] = {
        "org": org,
        "me": reviewer_id,
        "limit": limit + 1,
        "type_id": chosen.credential_type_id,
        "company_id": chosen.company_id,
        "import_id": chosen.import_id,
    }
    later = "" if cursor is None else " AND " + after(QUEUE_KEYS, cursor, params)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            sql.SQL(  # constant fragments; values are parameters
                "SELECT r.review_id, r.credential_id, r.version_id, r.version_number,"  # noqa: S608
                " r.holder_id, p.name AS holder_name, r.credential_type_id,"
                " t.name AS credential_type_name, r.routing, r.requested_at, r.import_id,"
                " r.claimed_by, r.claimed_at, (r.claimed_by = %(me)s) AS claimed_by_me,"
                " p.company_id, c.name AS company_name"
                " FROM review_items r"
                " LEFT JOIN people p ON p.organisation_id = r.organisation_id"
                " AND p.user_id = r.holder_id"
                " LEFT JOIN companies c ON c.organisation_id = r.organisation_id"
                " AND c.company_id = p.company_id"
                " LEFT JOIN credential_types t ON t.organisation_id = r.organisation_id"
                " AND t.credential_type_id = r.credential_type_id"
                " WHERE r.organisation_id = %(org)s AND r.state = 'open'"
                " AND %(me)s = ANY(r.reviewer_ids)"
                " AND (%(type_id)s::uuid IS NULL OR r.credential_type_id = %(type_id)s)"
                " AND (%(company_id)s::uuid IS NULL OR p.company_id = %(company_id)s)"
                " AND (%(import_id)s::uuid IS NULL OR r.import_id = %(import_id)s)" + later +
                " ORDER BY r.requested_at, r.review_id LIMIT %(limit)s"
            ).format(),
            params,
        )  # fmt: skip
        rows = await cur.fetchall()
    return Page(*page_of(rows, limit, QUEUE_KEYS))
