"""The review service's SQL: review streams' ids, the `reviews` rows (each stream's queryable
snapshot) and the queries over them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

from psycopg import AsyncConnection

from credflow_common.bulk import Column, arrays, unnest
from credflow_common.eventstore import Metadata
from credflow_contracts.events.base import Event
from credflow_review.domain import Review

Conn = AsyncConnection[Any]
REVIEW_NAMESPACE = UUID("0d9d6c7e-7f33-4a4e-a0c6-0c8d1c1f6a52")
QUEUE_COLUMNS = (
    "review_id", "credential_id", "version_id", "version_number", "holder_id",
    "credential_type_id", "routing", "reviewer_ids", "claimed_by", "import_id", "requested_at",
)  # fmt: skip


def review_id_for(version_id: UUID, cause_id: UUID) -> UUID:
    """One review per (version, triggering event): a repeated trigger names the same review."""
    return uuid5(REVIEW_NAMESPACE, f"{version_id}:{cause_id}")


def stream_id(review_id: UUID) -> str:
    return f"review-{review_id}"


@dataclass(frozen=True)
class ReviewAppend:
    review_id: UUID
    expected: int
    events: Sequence[Event]
    metadata: Metadata
    before: Review | None


REVIEW_COLUMNS: tuple[Column[tuple[Review, int]], ...] = (
    Column("review_id", "uuid", lambda row: row[0].review_id),
    Column("organisation_id", "uuid", lambda row: row[0].organisation_id),
    Column("credential_id", "uuid", lambda row: row[0].credential_id),
    Column("version_id", "uuid", lambda row: row[0].version_id),
    Column("version_number", "integer", lambda row: row[0].version_number),
    Column("holder_id", "uuid", lambda row: row[0].holder_id),
    Column("credential_type_id", "uuid", lambda row: row[0].credential_type_id),
    Column("status", "text", lambda row: row[0].status),
    Column("reviewer_ids", "text", lambda row: "{" + ",".join(map(str, row[0].reviewer_ids)) + "}"),
    Column("routing", "text", lambda row: row[0].routing or "managers"),
    Column("claimed_by", "uuid", lambda row: row[0].claimed_by),
    Column("import_id", "uuid", lambda row: row[0].import_id),
    Column("submitted_by", "uuid", lambda row: row[0].submitted_by),
    Column("stream_version", "integer", lambda row: row[1]),
)  # a review and its stream's version


async def save_rows(conn: Conn, rows: Sequence[tuple[Review, int]]) -> None:
    """Upsert the reviews' rows (the queryable snapshot of each stream) in one statement."""
    if not rows:
        return
    await conn.execute(
        "INSERT INTO reviews (review_id, organisation_id, credential_id, version_id,"  # noqa: S608 - constant columns
        " version_number, holder_id, credential_type_id, status, reviewer_ids, routing,"
        " claimed_by, import_id, submitted_by, stream_version, decided_at)"
        " SELECT r.review_id, r.organisation_id, r.credential_id, r.version_id,"
        " r.version_number, r.holder_id, r.credential_type_id, r.status,"
        " r.reviewer_ids::uuid[], r.routing, r.claimed_by, r.import_id, r.submitted_by,"
        " r.stream_version, CASE WHEN r.status IN ('validated', 'rejected') THEN now() END"
        f" FROM {unnest(REVIEW_COLUMNS, 'r')}"
        " ON CONFLICT (review_id) DO UPDATE SET status = EXCLUDED.status,"
        " reviewer_ids = EXCLUDED.reviewer_ids, routing = EXCLUDED.routing,"
        " claimed_by = EXCLUDED.claimed_by, stream_version = EXCLUDED.stream_version,"
        " decided_at = EXCLUDED.decided_at",
        arrays(REVIEW_COLUMNS, rows),
    )


async def open_items(
    conn: Conn, org: UUID, reviewer_id: UUID | None, import_id: UUID | None, limit: int
) -> list[dict[str, Any]]:
    """Open items, oldest first: routed to `reviewer_id` (None: everyone's), of one import."""
    clauses = ["organisation_id = %s", "status = 'requested'"]
    params: list[Any] = [org]
    if reviewer_id is not None:
        clauses.append("%s = ANY(reviewer_ids)")
        params.append(reviewer_id)
    if import_id is not None:
        clauses.append("import_id = %s")
        params.append(import_id)
    where = " AND ".join(clauses)  # constant clauses; values are parameters
    cursor = await conn.execute(
        f"SELECT {', '.join(QUEUE_COLUMNS)} FROM reviews WHERE {where}"  # noqa: S608
        " ORDER BY requested_at, review_id LIMIT %s",
        (*params, limit),
    )
    return [dict(zip(QUEUE_COLUMNS, row, strict=True)) for row in await cursor.fetchall()]


async def has_open_items_for(conn: Conn, org: UUID, reviewer_id: UUID) -> bool:
    cursor = await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM reviews WHERE organisation_id = %s"
        " AND status = 'requested' AND reviewer_ids @> ARRAY[%s]::uuid[])",
        (org, reviewer_id),
    )
    row = await cursor.fetchone()
    return bool(row and row[0])


async def first_review_of_import(conn: Conn, org: UUID, import_id: UUID) -> UUID | None:
    cursor = await conn.execute(
        "SELECT review_id FROM reviews WHERE organisation_id = %s AND import_id = %s LIMIT 1",
        (org, import_id),
    )
    first = await cursor.fetchone()
    return first[0] if first else None


async def open_reviews_of_import(conn: Conn, org: UUID, import_id: UUID) -> list[UUID]:
    cursor = await conn.execute(
        "SELECT review_id FROM reviews WHERE organisation_id = %s AND import_id = %s"
        " AND status = 'requested' ORDER BY requested_at",
        (org, import_id),
    )
    return [row[0] for row in await cursor.fetchall()]
