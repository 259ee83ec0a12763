"""The review service's consumers.

- `review.credentials`: a submitted, added or edited version opens a review round (or is
  accepted at once when its type needs no validation); a newer version supersedes the older
  version's open item; a deleted credential cancels its open items.
- `review.directory`: keeps the directory replica, re-routes open items when a holder's
  manager changes or a reviewer is deactivated or loses the role, and does the service's part
  of an erasure (`erase`).
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from credflow_common import mail
from credflow_common.bulk import Column, arrays, unnest
from credflow_common.consumer import ConsumerSpec, Delivery, types_of
from credflow_common.directory_replica import BatchReplica, apply_directory_events
from credflow_common.erasure import reporting_eraser
from credflow_common.errors import ConcurrencyError
from credflow_common.eventstore import Metadata
from credflow_contracts.events.credentials import (
    CredentialDeleted,
    CredentialSubmitted,
    CredentialVersionEdited,
    VersionAdded,
)
from credflow_contracts.events.directory import GroupUpdated, PersonErased, UserUpdated
from credflow_contracts.topics import CREDENTIALS, DIRECTORY
from credflow_review import domain
from credflow_review.domain import Reroute, Version
from credflow_review.service import Reviews
from credflow_review.store import Conn, ReviewAppend, review_id_for


def credentials_consumer(service: Reviews, topic_prefix: str = "") -> ConsumerSpec:
    async def apply(conn: Conn, deliveries: Sequence[Delivery]) -> None:
        replica = BatchReplica()
        await _preload_routing_facts(conn, replica, deliveries)
        reviews = service.for_batch(replica)
        if _only_new_versions(deliveries):
            await _open_all(conn, reviews, deliveries)  # an import's rows: set-wise
            return
        for delivery in deliveries:
            event = delivery.envelope.event
            match event:
                case CredentialSubmitted() | VersionAdded():
                    await _record_latest(conn, [event])
                    await _open(conn, reviews, delivery, _version_of(event))
                case CredentialVersionEdited():
                    cursor = await conn.execute(
                        "SELECT r.version_number, r.holder_id, r.credential_type_id, r.import_id,"
                        " r.submitted_by"
                        " FROM reviews r JOIN credential_versions v USING (credential_id)"
                        " WHERE r.version_id = %s AND v.latest_version_id = %s"
                        " ORDER BY r.requested_at DESC LIMIT 1",
                        (event.version_id, event.version_id),
                    )
                    known = await cursor.fetchone()
                    if known is None:
                        continue  # a version that needed no review: edits need none either
                    await _supersede_open(conn, event.credential_id)
                    version = Version(
                        event.organisation_id,
                        event.credential_id,
                        event.version_id,
                        known[0],
                        known[1],
                        known[2],
                        known[3],
                        known[4],
                    )
                    await _open(conn, reviews, delivery, version)
                case CredentialDeleted():
                    await conn.execute(
                        "UPDATE credential_versions SET deleted = true WHERE credential_id = %s",
                        (event.credential_id,),
                    )
                    await conn.execute(
                        "UPDATE reviews SET status = 'cancelled'"
                        " WHERE credential_id = %s AND status = 'requested'",
                        (event.credential_id,),
                    )

    return ConsumerSpec(
        name="review.credentials",
        topics=[topic_prefix + CREDENTIALS],
        handler=apply,
        event_types=types_of(
            CredentialSubmitted, VersionAdded, CredentialVersionEdited, CredentialDeleted
        ),
    )


def _only_new_versions(deliveries: Sequence[Delivery]) -> bool:
    """A batch of new versions of distinct credentials (the usual batch of an import)."""
    credentials = set()
    for delivery in deliveries:
        event = delivery.envelope.event
        if not isinstance(event, CredentialSubmitted | VersionAdded):
            return False
        credentials.add(event.credential_id)
    return len(credentials) == len(deliveries) > 1


async def _open_all(conn: Conn, reviews: Reviews, deliveries: Sequence[Delivery]) -> None:
    """What the one-by-one path does for each new version, in a few statements for all."""
    events = [_new_version(delivery) for delivery in deliveries]
    await _record_latest(conn, events)
    appends = [
        await _opening(conn, reviews, delivery, _version_of(event))
        for delivery, event in zip(deliveries, events, strict=True)
    ]
    # A review that exists already (a trigger seen again after its inbox entry expired) makes
    # this raise: the batch is then retried and, failing, applied one by one, where it is
    # skipped.
    await reviews.append_many(conn, appends)


VERSION_COLUMNS: tuple[Column[CredentialSubmitted | VersionAdded], ...] = (
    Column("credential_id", "uuid", lambda e: e.credential_id),
    Column("organisation_id", "uuid", lambda e: e.organisation_id),
    Column("version_id", "uuid", lambda e: e.version_id),
    Column("holder_id", "uuid", lambda e: e.holder_id),
)


async def _record_latest(conn: Conn, events: Sequence[CredentialSubmitted | VersionAdded]) -> None:
    """Each credential's latest version, in one statement; older versions' open items are
    superseded."""
    await conn.execute(
        "WITH latest AS (INSERT INTO credential_versions"  # noqa: S608 - constant columns
        " SELECT v.credential_id, v.organisation_id, v.version_id, v.holder_id, false"
        f" FROM {unnest(VERSION_COLUMNS, 'v')}"
        " ON CONFLICT (credential_id) DO UPDATE"
        " SET latest_version_id = EXCLUDED.latest_version_id)"
        " UPDATE reviews SET status = 'superseded'"
        " WHERE credential_id = ANY(%b::uuid[]) AND status = 'requested'",
        [*arrays(VERSION_COLUMNS, events), [e.credential_id for e in events]],
    )


def _new_version(delivery: Delivery) -> CredentialSubmitted | VersionAdded:
    event = delivery.envelope.event
    assert isinstance(event, CredentialSubmitted | VersionAdded)
    return event


async def _supersede_open(conn: Conn, credential_id: UUID) -> None:
    await conn.execute(
        "UPDATE reviews SET status = 'superseded'"
        " WHERE credential_id = %s AND status = 'requested'",
        (credential_id,),
    )


async def _preload_routing_facts(
    conn: Conn, replica: BatchReplica, deliveries: Sequence[Delivery]
) -> None:
    """One query per organisation in the batch for the directory facts that routing its new
    versions reads (instead of one per fact per event)."""
    wanted: dict[UUID, tuple[set[UUID], set[UUID]]] = {}
    for delivery in deliveries:
        event = delivery.envelope.event
        if isinstance(event, CredentialSubmitted | VersionAdded):
            users, types = wanted.setdefault(event.organisation_id, (set(), set()))
            users.add(event.holder_id)
            types.add(event.credential_type_id)
    for org, (users, types) in wanted.items():
        await replica.preload(conn, org, users, types)


async def _opening(
    conn: Conn, reviews: Reviews, delivery: Delivery, version: Version
) -> ReviewAppend:
    """The review this trigger opens for `version`: routed, decided, not yet appended."""
    review_id = review_id_for(version.version_id, delivery.event_id)
    routing = await reviews.routing(conn, version)
    events = domain.decide(domain.Open(review_id, version, routing), None)
    metadata = Metadata(
        version.organisation_id, delivery.envelope.correlation_id, delivery.event_id
    )
    return ReviewAppend(review_id, 0, events, metadata, None)


def _version_of(event: CredentialSubmitted | VersionAdded) -> Version:
    return Version(
        event.organisation_id,
        event.credential_id,
        event.version_id,
        event.version_number,
        event.holder_id,
        event.credential_type_id,
        event.import_id,
        event.submitted_by if isinstance(event, CredentialSubmitted) else event.added_by,
    )


async def _open(conn: Conn, reviews: Reviews, delivery: Delivery, version: Version) -> None:
    opening = await _opening(conn, reviews, delivery, version)
    try:
        await reviews.append_many(conn, [opening])
    except ConcurrencyError:
        # This trigger opened its review already. No savepoint is needed to go on: the stream
        # id derives from the trigger, so a racing writer appends these same events, all of
        # ours conflict, and none is written.
        return


async def erase(conn: Conn, erased: PersonErased) -> dict[str, int]:
    """The review service's part of an erasure: every mail to or about the person, sent or
    not. Its review items hold ids only; items the person was to review were rerouted when
    they were deactivated."""
    return {"mails": await mail.forget(conn, erased.organisation_id, erased.user_id)}


def directory_consumer(reviews: Reviews, topic_prefix: str = "") -> ConsumerSpec:
    eraser = reporting_eraser(reviews.store, "review", erase)

    async def apply(conn: Conn, deliveries: Sequence[Delivery]) -> None:
        await apply_directory_events(conn, deliveries, eraser)
        affected: dict[UUID, set[UUID]] = {}
        for delivery in deliveries:
            event = delivery.envelope.event
            if isinstance(event, UserUpdated):
                affected.setdefault(event.organisation_id, set()).add(event.user.user_id)
            elif isinstance(event, GroupUpdated):
                affected.setdefault(event.organisation_id, set()).update(event.group.admin_ids)
        for org, users in affected.items():
            await _reroute(conn, reviews, org, users, deliveries[-1])

    return ConsumerSpec(name="review.directory", topics=[topic_prefix + DIRECTORY], handler=apply)


async def _reroute(
    conn: Conn, reviews: Reviews, org: UUID, users: set[UUID], cause: Delivery
) -> None:
    """Open items held by, or for, the changed users get their reviewers worked out again."""
    cursor = await conn.execute(
        "SELECT review_id FROM reviews WHERE organisation_id = %s AND status = 'requested'"
        " AND (holder_id = ANY(%s) OR reviewer_ids && %s::uuid[])",
        (org, list(users), list(users)),
    )
    open_items = await cursor.fetchall()
    settings = await reviews.replica.settings(conn, org) if open_items else None
    for (review_id,) in open_items:
        review, version, context = await reviews.load(conn, org, review_id)
        if review is None or settings is None:
            continue
        mode, reviewer_ids = await reviews.reviewers(conn, org, review.holder_id, settings)
        events = domain.decide(Reroute(reviewer_ids, mode), review, context)
        if events:
            metadata = Metadata(org, cause.envelope.correlation_id, cause.event_id)
            await reviews.append(conn, ReviewAppend(review_id, version, events, metadata, review))
