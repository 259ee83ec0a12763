"""The review service layer: routing from the directory replica, review streams and their
snapshots, mails. Used by the consumers (opening and re-routing reviews) and the HTTP API
(claims and decisions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from psycopg import AsyncConnection

from credflow_common import mail
from credflow_common.directory_replica import BatchReplica, DirectoryReplica
from credflow_common.eventstore import Append, EventStore, Metadata, RecordedEvent
from credflow_contracts.events.base import Event
from credflow_contracts.events.credentials import (
    CredentialRejected,
    CredentialValidated,
    ReviewClaimed,
    ReviewerRouting,
    ReviewRequested,
)
from credflow_contracts.events.directory import OrganisationSettings
from credflow_review import domain
from credflow_review.domain import Context, Review, Routing, Version

Conn = AsyncConnection[Any]
REVIEW_NAMESPACE = UUID("0d9d6c7e-7f33-4a4e-a0c6-0c8d1c1f6a52")


def review_id_for(version_id: UUID, cause_id: UUID) -> UUID:
    """One review per (version, triggering event): a repeated trigger names the same review."""
    return uuid5(REVIEW_NAMESPACE, f"{version_id}:{cause_id}")


def stream_id(review_id: UUID) -> str:
    return f"review-{review_id}"


IMPORT_MAIL_DELAY = timedelta(minutes=2)


class Reviews:
    def __init__(
        self,
        store: EventStore,
        replica: DirectoryReplica | None = None,
        import_mail_delay: timedelta = IMPORT_MAIL_DELAY,
    ) -> None:
        self.store = store
        self.replica = replica or DirectoryReplica()
        self.import_mail_delay = import_mail_delay

    def for_batch(self, replica: BatchReplica) -> Reviews:
        """The same service, with directory lookups remembered for one consumer batch."""
        return Reviews(self.store, replica, self.import_mail_delay)

    # -- routing --------------------------------------------------------------------------------

    async def routing(self, conn: Conn, version: Version) -> Routing:
        org = version.organisation_id
        settings = await self.replica.settings(conn, org)
        credential_type = await self.replica.credential_type(conn, org, version.credential_type_id)
        if settings is None or credential_type is None:
            raise LookupError(f"directory data for organisation {org} has not arrived yet")
        required = (
            credential_type.validation_required
            if credential_type.validation_required is not None
            else settings.validation_required
        )
        if not required:
            return Routing(False, settings.reviewer_routing, ())
        mode, reviewers = await self.reviewers(conn, org, version.holder_id, settings)
        return Routing(
            True, mode, reviewers, settings.reviewer_group_id if mode == "reviewer_group" else None
        )

    async def reviewers(
        self, conn: Conn, org: UUID, holder_id: UUID, settings: OrganisationSettings
    ) -> tuple[ReviewerRouting, tuple[UUID, ...]]:
        holder = await self.replica.user(conn, org, holder_id)
        manager_id = None
        group_admins: list[UUID] = []
        if holder is not None:
            if holder.manager_id is not None:
                manager = await self.replica.user(conn, org, holder.manager_id)
                if manager is not None and manager.status == "active":
                    manager_id = manager.user_id
            for group_id in holder.group_ids:
                group = await self.replica.group(conn, org, group_id)
                if group is not None:
                    for admin_id in group.admin_ids:
                        admin = await self.replica.user(conn, org, admin_id)
                        if admin is not None and admin.status == "active":
                            group_admins.append(admin_id)
        org_admins = [u.user_id for u in await self.replica.users_with_role(conn, org, "admin")]
        members: list[UUID] = []
        if settings.reviewer_routing == "reviewer_group" and settings.reviewer_group_id:
            members = [
                u.user_id
                for u in await self.replica.group_members(conn, org, settings.reviewer_group_id)
            ]
        mode, reviewers = domain.route(
            settings.reviewer_routing, manager_id, group_admins, org_admins, members
        )
        # Nobody reviews their own credential; if that leaves nobody (the only admin's own
        # credential), the item waits with the admins until someone else can decide it.
        others = tuple(r for r in reviewers if r != holder_id)
        admins = tuple(a for a in org_admins if a != holder_id) or tuple(org_admins)
        return mode, others or admins

    # -- streams and snapshots ------------------------------------------------------------------

    async def load(
        self, conn: Conn, org: UUID, review_id: UUID
    ) -> tuple[Review | None, int, Context]:
        cursor = await conn.execute(
            "SELECT r.stream_version, r.status, v.latest_version_id <> r.version_id, v.deleted"
            " FROM reviews r JOIN credential_versions v USING (credential_id)"
            " WHERE r.review_id = %s AND r.organisation_id = %s",
            (review_id, org),
        )
        row = await cursor.fetchone()
        if row is None:
            return None, 0, Context()
        stream_version, status, newer, deleted = row
        recorded = await self.store.load(conn, stream_id(review_id))
        review = domain.fold([r.event for r in recorded])
        context = Context(
            superseded=bool(newer) or status == "superseded", credential_deleted=deleted
        )
        return review, stream_version, context

    async def append(
        self,
        conn: Conn,
        review_id: UUID,
        expected: int,
        events: Sequence[Event],
        metadata: Metadata,
        before: Review | None,
    ) -> tuple[Review | None, list[RecordedEvent]]:
        [outcome] = await self.append_many(
            conn, [ReviewAppend(review_id, expected, events, metadata, before)]
        )
        return outcome

    async def append_many(
        self, conn: Conn, appends: Sequence[ReviewAppend]
    ) -> list[tuple[Review | None, list[RecordedEvent]]]:
        """Append to each review's stream, upsert the reviews' rows and queue their mails: one
        statement each, however many reviews (a batch of an import's rows opens thousands)."""
        recorded = await self.store.append_many(conn, [
            Append(stream_id(a.review_id), a.expected, a.events, a.metadata) for a in appends
        ])  # fmt: skip
        outcomes: list[tuple[Review | None, list[RecordedEvent]]] = []
        rows: list[tuple[Review, int]] = []
        mails: list[mail.Mail] = []
        for append, events in zip(appends, recorded, strict=True):
            after = domain.fold(list(append.events), append.before)
            if after is not None and events:
                rows.append((after, append.expected + len(events)))
            mails += await self.mails(conn, append.events, after)
            outcomes.append((after, events))
        await _save_rows(conn, rows)
        await mail.enqueue_many(conn, mails)
        return outcomes

    # -- mail -----------------------------------------------------------------------------------

    async def mails(
        self, conn: Conn, events: Sequence[Event], review: Review | None
    ) -> list[mail.Mail]:
        found: list[mail.Mail] = []
        for event in events:
            match event:
                case ReviewRequested():
                    found += await self._to_reviewers(conn, event)
                case CredentialValidated() | CredentialRejected():
                    assert review is not None
                    found += await self._to_holder(conn, event, review)
                case ReviewClaimed():
                    pass
        return found

    async def _type_name(self, conn: Conn, org: UUID, type_id: UUID) -> str:
        credential_type = await self.replica.credential_type(conn, org, type_id)
        return credential_type.name if credential_type else "credential"

    async def _to_reviewers(self, conn: Conn, event: ReviewRequested) -> list[mail.Mail]:
        org = event.organisation_id
        settings = await self.replica.settings(conn, org)
        holder = await self.replica.user(conn, org, event.holder_id)
        type_name = await self._type_name(conn, org, event.credential_type_id)
        digest_key, deliver_after = _mail_grouping(event, settings, self.import_mail_delay)
        mails = []
        for reviewer_id in event.reviewer_ids:
            reviewer = await self.replica.user(conn, org, reviewer_id)
            if reviewer is None:
                continue
            mails.append(mail.Mail(
                org,
                reviewer.email,
                f"Review needed: {type_name} of {holder.name if holder else 'a worker'}",
                f"{holder.name if holder else 'A worker'} submitted a {type_name} "
                f"(version {event.version_number}). Review item {event.review_id}.",
                digest_key=digest_key,
                deliver_after=deliver_after,
                mail_id=uuid5(
                    REVIEW_NAMESPACE,
                    f"request:{event.review_id}:{reviewer_id}:"
                    f"{','.join(map(str, event.reviewer_ids))}",
                ),
            ))  # fmt: skip
        return mails

    async def _to_holder(
        self, conn: Conn, event: CredentialValidated | CredentialRejected, review: Review
    ) -> list[mail.Mail]:
        org = event.organisation_id
        holder = await self.replica.user(conn, org, review.holder_id)
        if holder is None:
            return []
        type_name = await self._type_name(conn, org, review.credential_type_id)
        if isinstance(event, CredentialValidated):
            subject, body = (
                f"Your {type_name} was verified",
                f"Your {type_name} (version {review.version_number}) was verified."
                + (f"\n\nComment: {event.comment}" if event.comment else ""),
            )
        else:
            subject, body = (
                f"Your {type_name} was not accepted",
                f"Your {type_name} (version {review.version_number}) was not "
                f"accepted.\n\nReason: {event.comment}\n\nPlease add a new version.",
            )
        return [
            mail.Mail(
                org,
                holder.email,
                subject,
                body,
                mail_id=uuid5(REVIEW_NAMESPACE, f"decision:{event.review_id}"),
            )
        ]


def _mail_grouping(
    event: ReviewRequested, settings: OrganisationSettings | None, import_delay: timedelta
) -> tuple[str | None, datetime | None]:
    """How a review request is mailed: alone at once; in the organisation's hourly digest; or,
    for a row of a bulk import, in one mail per reviewer for the whole import, sent a little
    after its items arrive (twenty thousand rows must not mean twenty thousand mails)."""
    now = datetime.now(UTC)
    if event.import_id is not None:
        return f"import-{event.import_id}", now + import_delay
    if settings is not None and settings.review_notifications == "digest":
        return "review-digest", now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return None, None


@dataclass(frozen=True)
class ReviewAppend:
    review_id: UUID
    expected: int
    events: Sequence[Event]
    metadata: Metadata
    before: Review | None


async def _save_rows(conn: Conn, rows: Sequence[tuple[Review, int]]) -> None:
    """Upsert the reviews' rows (the queryable snapshot of each stream) in one statement."""
    if not rows:
        return
    reviews = [review for review, _ in rows]
    await conn.execute(
        "INSERT INTO reviews (review_id, organisation_id, credential_id, version_id,"
        " version_number, holder_id, credential_type_id, status, reviewer_ids, routing,"
        " claimed_by, import_id, submitted_by, stream_version, decided_at)"
        " SELECT r.review_id, r.organisation_id, r.credential_id, r.version_id,"
        " r.version_number, r.holder_id, r.credential_type_id, r.status,"
        " r.reviewer_ids::uuid[], r.routing, r.claimed_by, r.import_id, r.submitted_by,"
        " r.stream_version, CASE WHEN r.status IN ('validated', 'rejected') THEN now() END"
        " FROM unnest(%b::uuid[], %b::uuid[], %b::uuid[], %b::uuid[], %b::integer[],"
        " %b::uuid[], %b::uuid[], %b::text[], %b::text[], %b::text[], %b::uuid[], %b::uuid[],"
        " %b::uuid[], %b::integer[]) AS r (review_id, organisation_id, credential_id,"
        " version_id, version_number, holder_id, credential_type_id, status, reviewer_ids,"
        " routing, claimed_by, import_id, submitted_by, stream_version)"
        " ON CONFLICT (review_id) DO UPDATE SET status = EXCLUDED.status,"
        " reviewer_ids = EXCLUDED.reviewer_ids, routing = EXCLUDED.routing,"
        " claimed_by = EXCLUDED.claimed_by, stream_version = EXCLUDED.stream_version,"
        " decided_at = EXCLUDED.decided_at",
        [
            [r.review_id for r in reviews],
            [r.organisation_id for r in reviews],
            [r.credential_id for r in reviews],
            [r.version_id for r in reviews],
            [r.version_number for r in reviews],
            [r.holder_id for r in reviews],
            [r.credential_type_id for r in reviews],
            [r.status for r in reviews],
            ["{" + ",".join(map(str, r.reviewer_ids)) + "}" for r in reviews],
            [r.routing or "managers" for r in reviews],
            [r.claimed_by for r in reviews],
            [r.import_id for r in reviews],
            [r.submitted_by for r in reviews],
            [version for _, version in rows],
        ],
    )
