"""The Review aggregate, one per credential version, as a decider (pure functions, no I/O).

A version that needs validation gets a review: requested (routed to reviewers), optionally
claimed, then validated or rejected. A version that needs none is accepted at once (status
`submitted` in the views). An edit of the version starts a new round. A review whose version
was superseded by a newer version, or whose credential was deleted, takes no decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal
from uuid import UUID

from credflow_common.errors import (  # re-exported: the domain's refusals
    ConflictError as ConflictError,
)
from credflow_common.errors import (
    DomainError as DomainError,
)
from credflow_common.errors import (
    ForbiddenError as ForbiddenError,
)
from credflow_common.errors import (
    InvalidError as InvalidError,
)
from credflow_common.errors import (
    NotFoundError as NotFoundError,
)
from credflow_contracts.dates import CALENDAR_RANGE, within_calendar
from credflow_contracts.events.base import Event
from credflow_contracts.events.credentials import (
    CredentialAccepted,
    CredentialRejected,
    CredentialValidated,
    ReviewClaimed,
    ReviewerRouting,
    ReviewReleased,
    ReviewRequested,
)
from credflow_contracts.events.values import ReviewEdits

ReviewError = DomainError


Status = Literal["requested", "accepted", "validated", "rejected"]


@dataclass(frozen=True)
class Review:
    review_id: UUID
    organisation_id: UUID
    credential_id: UUID
    version_id: UUID
    version_number: int
    holder_id: UUID
    credential_type_id: UUID
    status: Status
    reviewer_ids: tuple[UUID, ...] = ()
    routing: ReviewerRouting | None = None
    claimed_by: UUID | None = None
    import_id: UUID | None = None
    submitted_by: UUID | None = None


@dataclass(frozen=True)
class Version:
    """What the review service knows of the version under review."""

    organisation_id: UUID
    credential_id: UUID
    version_id: UUID
    version_number: int
    holder_id: UUID
    credential_type_id: UUID
    import_id: UUID | None = None
    submitted_by: UUID | None = None


@dataclass(frozen=True)
class Routing:
    """Who reviews, as worked out from the directory: see `route`."""

    validation_required: bool
    routing: ReviewerRouting
    reviewer_ids: tuple[UUID, ...]
    reviewer_group_id: UUID | None = None


@dataclass(frozen=True)
class Actor:
    user_id: UUID
    is_admin: bool


# -- routing (pure: the service layer looks the inputs up in its directory replica) -------------


def route(
    mode: ReviewerRouting,
    holder_manager_id: UUID | None,
    group_admin_ids: Sequence[UUID],
    organisation_admin_ids: Sequence[UUID],
    reviewer_group_member_ids: Sequence[UUID],
) -> tuple[ReviewerRouting, tuple[UUID, ...]]:
    """The reviewers of a holder's credential. `managers`: the holder's manager, or the group
    admins when the holder has none; `group_admins`: the admins of the holder's groups;
    `reviewer_group`: the members of the named group. Whoever is left without reviewers falls
    back to the organisation's admins, so no item is ever routed to nobody."""
    if mode == "managers" and holder_manager_id is not None:
        return "managers", (holder_manager_id,)
    if mode in ("managers", "group_admins") and group_admin_ids:
        return "group_admins", tuple(dict.fromkeys(group_admin_ids))
    if mode == "reviewer_group" and reviewer_group_member_ids:
        return "reviewer_group", tuple(dict.fromkeys(reviewer_group_member_ids))
    return "group_admins", tuple(dict.fromkeys(organisation_admin_ids))


# -- commands -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Open:
    """A version was submitted, added or edited: start a review round (or accept)."""

    review_id: UUID
    version: Version
    routing: Routing


@dataclass(frozen=True)
class Claim:
    actor: Actor


@dataclass(frozen=True)
class Release:
    actor: Actor


@dataclass(frozen=True)
class Validate:
    actor: Actor
    comment: str | None = None
    edits: ReviewEdits | None = None
    internal_equivalent_id: UUID | None = None
    bulk: bool = False


@dataclass(frozen=True)
class Reject:
    actor: Actor
    comment: str
    edits: ReviewEdits | None = None
    internal_equivalent_id: UUID | None = None


@dataclass(frozen=True)
class Reroute:
    reviewer_ids: tuple[UUID, ...]
    routing: ReviewerRouting


Command = Open | Claim | Release | Validate | Reject | Reroute


@dataclass(frozen=True)
class Context:
    """Facts a decision needs beyond the review itself."""

    superseded: bool = False
    credential_deleted: bool = False
    reviewers: tuple[UUID, ...] = field(default_factory=tuple)


def _may_review(review: Review, actor: Actor, bulk: bool = False) -> None:
    """Admins and the routed reviewers decide; so does the uploader of an import, for that
    import's items approved in bulk (PRODUCT.md, "Bulk import")."""
    if actor.user_id == review.holder_id:
        raise ForbiddenError("nobody reviews their own credential")
    if actor.is_admin or actor.user_id in review.reviewer_ids:
        return
    if bulk and review.import_id is not None and review.submitted_by == actor.user_id:
        return
    raise ForbiddenError("this item is routed to other reviewers")


def _open_for_decision(
    review: Review | None, context: Context, actor: Actor, bulk: bool = False
) -> Review:
    """The item, once the caller may act on it (authorisation comes before its state, so a
    stranger learns nothing from a 409) and it still awaits a decision."""
    if review is None:
        raise NotFoundError("no such review item")
    _may_review(review, actor, bulk)
    if context.credential_deleted:
        raise ConflictError("the credential was deleted")
    if context.superseded:
        raise ConflictError("a newer version of this credential was submitted; review that one")
    if review.status != "requested":
        raise ConflictError(f"this item was {review.status} already")
    return review


def _check_edits(edits: ReviewEdits | None) -> None:
    """A reviewer's corrected dates follow the calendar every input follows."""
    for name in ("issued_on", "expires_on"):
        day = getattr(edits, name, None)
        if day is not None and not within_calendar(day):
            raise InvalidError(f"{day.isoformat()} is not a date {CALENDAR_RANGE}",
                               f"edits.{name}")  # fmt: skip


def decide(command: Command, review: Review | None, context: Context | None = None) -> list[Event]:
    context = context or Context()
    match command:
        case Open():
            version = command.version
            if not command.routing.validation_required:
                return [
                    CredentialAccepted(
                        credential_id=version.credential_id,
                        organisation_id=version.organisation_id,
                        version_id=version.version_id,
                        version_number=version.version_number,
                    )
                ]
            return [
                ReviewRequested(
                    credential_id=version.credential_id,
                    organisation_id=version.organisation_id,
                    review_id=command.review_id,
                    version_id=version.version_id,
                    version_number=version.version_number,
                    holder_id=version.holder_id,
                    credential_type_id=version.credential_type_id,
                    routing=command.routing.routing,
                    reviewer_ids=list(command.routing.reviewer_ids),
                    reviewer_group_id=command.routing.reviewer_group_id,
                    import_id=version.import_id,
                    submitted_by=version.submitted_by,
                )
            ]
        case Claim():
            current = _open_for_decision(review, context, command.actor)
            if current.claimed_by == command.actor.user_id:
                return []
            if current.claimed_by is not None and not command.actor.is_admin:
                raise ConflictError("another reviewer claimed this item")
            return [
                ReviewClaimed(
                    credential_id=current.credential_id,
                    organisation_id=current.organisation_id,
                    review_id=current.review_id,
                    version_id=current.version_id,
                    claimed_by=command.actor.user_id,
                )
            ]
        case Release():
            current = _open_for_decision(review, context, command.actor)
            if current.claimed_by is None:
                raise ConflictError("this item is not claimed")
            if current.claimed_by != command.actor.user_id and not command.actor.is_admin:
                raise ForbiddenError(
                    "only the reviewer who claimed it (or an admin) can release it"
                )
            return [
                ReviewReleased(
                    credential_id=current.credential_id,
                    organisation_id=current.organisation_id,
                    review_id=current.review_id,
                    version_id=current.version_id,
                    released_by=command.actor.user_id,
                )
            ]
        case Validate():
            current = _open_for_decision(review, context, command.actor, bulk=command.bulk)
            _check_edits(command.edits)
            _check_claim(current, command.actor)
            return [
                CredentialValidated(
                    credential_id=current.credential_id,
                    organisation_id=current.organisation_id,
                    review_id=current.review_id,
                    version_id=current.version_id,
                    validated_by=command.actor.user_id,
                    holder_id=current.holder_id,
                    comment=command.comment,
                    edits=command.edits,
                    internal_equivalent_id=command.internal_equivalent_id,
                    bulk=command.bulk,
                )
            ]
        case Reject():
            current = _open_for_decision(review, context, command.actor)
            _check_edits(command.edits)
            _check_claim(current, command.actor)
            if not command.comment.strip():
                raise InvalidError("a rejection needs a comment", "comment")
            return [
                CredentialRejected(
                    credential_id=current.credential_id,
                    organisation_id=current.organisation_id,
                    review_id=current.review_id,
                    version_id=current.version_id,
                    rejected_by=command.actor.user_id,
                    holder_id=current.holder_id,
                    comment=command.comment,
                    edits=command.edits,
                    internal_equivalent_id=command.internal_equivalent_id,
                )
            ]
        case Reroute():
            if review is None or review.status != "requested":
                return []
            if set(command.reviewer_ids) == set(review.reviewer_ids):
                return []
            return [
                ReviewRequested(
                    credential_id=review.credential_id,
                    organisation_id=review.organisation_id,
                    review_id=review.review_id,
                    version_id=review.version_id,
                    version_number=review.version_number,
                    holder_id=review.holder_id,
                    credential_type_id=review.credential_type_id,
                    routing=command.routing,
                    reviewer_ids=list(command.reviewer_ids),
                    import_id=review.import_id,
                    submitted_by=review.submitted_by,
                )
            ]
    raise TypeError(f"unknown command {command!r}")


def _check_claim(review: Review, actor: Actor) -> None:
    if review.claimed_by is not None and review.claimed_by != actor.user_id and not actor.is_admin:
        raise ConflictError("another reviewer claimed this item")


def evolve(review: Review | None, event: Event) -> Review | None:
    match event:
        case ReviewRequested():
            if review is not None and review.review_id == event.review_id:
                return replace(
                    review, reviewer_ids=tuple(event.reviewer_ids), routing=event.routing
                )
            return Review(
                review_id=event.review_id,
                organisation_id=event.organisation_id,
                credential_id=event.credential_id,
                version_id=event.version_id,
                version_number=event.version_number,
                holder_id=event.holder_id,
                credential_type_id=event.credential_type_id,
                status="requested",
                reviewer_ids=tuple(event.reviewer_ids),
                routing=event.routing,
                import_id=event.import_id,
                submitted_by=event.submitted_by,
            )
        case ReviewClaimed():
            assert review is not None
            return replace(review, claimed_by=event.claimed_by)
        case ReviewReleased():
            assert review is not None
            return replace(review, claimed_by=None)
        case CredentialValidated():
            assert review is not None
            return replace(review, status="validated")
        case CredentialRejected():
            assert review is not None
            return replace(review, status="rejected")
    return review


def fold(events: Sequence[Event], review: Review | None = None) -> Review | None:
    for event in events:
        review = evolve(review, event)
    return review
