"""The review service layer: routing from the directory replica, review streams and their
snapshots (with their mails), and the decisions of the HTTP API (claims, validations,
rejections, bulk approval). The consumers use it to open and re-route reviews."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from credflow_common import mail, requests
from credflow_common.directory_replica import BatchReplica, DirectoryReplica
from credflow_common.errors import ForbiddenError, InvalidError
from credflow_common.eventstore import Append, EventStore, RecordedEvent
from credflow_common.problems import status_of
from credflow_common.requests import Body, Command
from credflow_contracts.events.credentials import ReviewerRouting
from credflow_contracts.events.directory import OrganisationSettings
from credflow_review import domain, store
from credflow_review.domain import Actor, Context, Review, ReviewError, Routing, Validate, Version
from credflow_review.inputs import BulkApproveInput
from credflow_review.mails import IMPORT_MAIL_DELAY, ReviewMails
from credflow_review.store import Conn, ReviewAppend, save_rows, stream_id

BULK_CHUNK = 100


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
        self.mails = ReviewMails(self.replica, import_mail_delay)

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
        self, conn: Conn, append: ReviewAppend
    ) -> tuple[Review | None, list[RecordedEvent]]:
        [outcome] = await self.append_many(conn, [append])
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
            mails += await self.mails.of(conn, append.events, after)
            outcomes.append((after, events))
        await save_rows(conn, rows)
        await mail.enqueue_many(conn, mails)
        return outcomes

    # -- decisions ------------------------------------------------------------------------------

    async def act(self, conn: Conn, command: Command, review_id: UUID,
                  decided: domain.Command) -> tuple[Body, list[RecordedEvent]]:  # fmt: skip
        """Decide `decided` on the review and append its events (in the caller's transaction)."""
        org = command.organisation_id
        equivalent = getattr(decided, "internal_equivalent_id", None)
        if equivalent is not None and not await self.replica.credential_type(conn, org, equivalent):
            raise InvalidError("no such credential type", "internal_equivalent_id")
        review, version, review_context = await self.load(conn, org, review_id)
        events = domain.decide(decided, review, review_context)
        after, recorded = await self.append(
            conn, ReviewAppend(review_id, version, events, command.metadata, review)
        )
        return {
            "review_id": str(review_id),
            "status": after.status if after else None,
            "claimed_by": str(after.claimed_by) if after and after.claimed_by else None,
            "version": version + len(recorded),
        }, recorded

    async def decide(self, pool: AsyncConnectionPool[Conn], command: Command, review_id: UUID,
                     decided: domain.Command) -> Body:  # fmt: skip
        """One decision as one command, honouring its idempotency key."""
        command.principal.require_organisation(command.organisation_id)

        async def work(conn: Conn) -> tuple[Body, Sequence[RecordedEvent]]:
            return await self.act(conn, command, review_id, decided)

        return await requests.run(pool, command, work)

    async def bulk_approve(self, conn: Conn, command: Command, approval: BulkApproveInput) -> Body:
        """Validate many items; each is decided on its own: one that cannot be approved is
        reported, the others go ahead."""
        org, principal = command.organisation_id, command.principal
        if not await self.may_bulk_approve(conn, command, approval.import_id):
            raise ForbiddenError(
                "only admins, the item's reviewers and an import's uploader approve in bulk"
            )
        if approval.review_ids is not None:
            ids = list(dict.fromkeys(approval.review_ids))
        else:
            assert approval.import_id is not None
            ids = await store.open_reviews_of_import(conn, org, approval.import_id)
        approved, failures = 0, []
        actor = Actor(principal.user_id, principal.has_role("admin"))
        for start in range(0, len(ids), BULK_CHUNK):
            async with conn.transaction():
                for review_id in ids[start : start + BULK_CHUNK]:
                    try:
                        async with conn.transaction():  # one item: all or nothing
                            validate = Validate(actor, approval.comment, bulk=True)
                            await self.act(conn, command, review_id, validate)
                        approved += 1
                    except ReviewError as exc:
                        failures.append({"review_id": str(review_id), "status": status_of(exc),
                                         "error": exc.message})  # fmt: skip
        return {"approved": approved, "failed": len(failures), "failures": failures}

    async def may_bulk_approve(self, conn: Conn, command: Command, import_id: UUID | None) -> bool:
        """Admins, reviewers with open items routed to them, and the uploader of the import
        named (each item is still checked on its own)."""
        org, principal = command.organisation_id, command.principal
        if principal.has_role("admin"):
            return True
        if await store.has_open_items_for(conn, org, principal.user_id):
            return True
        if import_id is None:
            return False
        first = await store.first_review_of_import(conn, org, import_id)
        if first is None:
            return False
        review, _, _ = await self.load(conn, org, first)
        return review is not None and review.submitted_by == principal.user_id
