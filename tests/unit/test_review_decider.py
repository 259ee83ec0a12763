"""The Review decider: given events, when a command, then events (or a rejection)."""

from __future__ import annotations

from datetime import date

import pytest

from credflow_contracts.events.base import Event
from credflow_contracts.events.credentials import (
    CredentialAccepted,
    CredentialRejected,
    CredentialValidated,
    ReviewClaimed,
    ReviewRequested,
)
from credflow_contracts.events.values import ReviewEdits
from credflow_contracts.ids import uuid7
from credflow_review.domain import (
    Actor,
    Claim,
    Command,
    ConflictError,
    Context,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    Open,
    Reject,
    Release,
    Reroute,
    Routing,
    Validate,
    Version,
    decide,
    fold,
    route,
)

ORG, HOLDER, MANAGER, ADMIN, OTHER = uuid7(), uuid7(), uuid7(), uuid7(), uuid7()
VERSION = Version(ORG, uuid7(), uuid7(), 1, HOLDER, uuid7())
BY_MANAGER = Routing(validation_required=True, routing="managers", reviewer_ids=(MANAGER,))
MANAGER_ACTS, ADMIN_ACTS, OTHER_ACTS = (
    Actor(MANAGER, False),
    Actor(ADMIN, True),
    Actor(OTHER, False),
)


def given(*commands: Command) -> list[Event]:
    events: list[Event] = []
    for command in commands:
        events += decide(command, fold(events))
    return events


def when(history: list[Event], command: Command, context: Context | None = None) -> list[Event]:
    return decide(command, fold(history), context)


REQUESTED = given(Open(uuid7(), VERSION, BY_MANAGER))
SUPERSEDED, DELETED = Context(superseded=True), Context(credential_deleted=True)


def test_a_version_that_needs_validation_is_routed_to_its_reviewers() -> None:
    [event] = REQUESTED
    assert isinstance(event, ReviewRequested)
    assert event.reviewer_ids == [MANAGER]
    assert event.routing == "managers"


def test_a_version_that_needs_no_validation_is_accepted_without_a_review() -> None:
    [event] = when([], Open(uuid7(), VERSION, Routing(False, "managers", ())))
    assert isinstance(event, CredentialAccepted)
    assert fold([event]) is None, "no review item exists"


@pytest.mark.parametrize(
    ("mode", "manager", "group_admins", "org_admins", "members", "expected"),
    [
        ("managers", MANAGER, [ADMIN], [ADMIN], [], ("managers", (MANAGER,))),
        ("managers", None, [OTHER], [ADMIN], [], ("group_admins", (OTHER,))),
        ("managers", None, [], [ADMIN], [], ("group_admins", (ADMIN,))),
        ("group_admins", MANAGER, [OTHER, OTHER], [ADMIN], [], ("group_admins", (OTHER,))),
        ("reviewer_group", MANAGER, [], [ADMIN], [OTHER], ("reviewer_group", (OTHER,))),
        ("reviewer_group", MANAGER, [], [ADMIN], [], ("group_admins", (ADMIN,))),
    ],
)
def test_routing_modes_and_fallbacks(
    mode: str, manager: object, group_admins: list[object], org_admins: list[object],
    members: list[object], expected: tuple[str, tuple[object, ...]],
) -> None:  # fmt: skip
    assert route(mode, manager, group_admins, org_admins, members) == expected  # type: ignore[arg-type]


def test_claim_validate_and_reject() -> None:
    claimed = when(REQUESTED, Claim(MANAGER_ACTS))
    assert isinstance(claimed[0], ReviewClaimed)
    [validated] = when([*REQUESTED, *claimed], Validate(MANAGER_ACTS, comment="ok"))
    assert isinstance(validated, CredentialValidated)
    [rejected] = when(REQUESTED, Reject(ADMIN_ACTS, "blurry photo"))
    assert isinstance(rejected, CredentialRejected)
    assert rejected.comment == "blurry photo"


@pytest.mark.parametrize(
    ("history", "command", "context", "error", "message"),
    [
        ([], Validate(MANAGER_ACTS), None, NotFoundError, "no such review"),
        (REQUESTED, Reject(MANAGER_ACTS, "  "), None, InvalidError, "needs a comment"),
        (REQUESTED, Validate(MANAGER_ACTS, edits=ReviewEdits(changed=["expires_on"],
         expires_on=date(9999, 12, 31))), None, InvalidError, "between 1900-01-01"),
        (REQUESTED, Reject(MANAGER_ACTS, "typo", edits=ReviewEdits(changed=["issued_on"],
         issued_on=date(1000, 1, 1))), None, InvalidError, "between 1900-01-01"),
        (REQUESTED, Validate(OTHER_ACTS), None, ForbiddenError, "other reviewers"),
        (REQUESTED, Validate(Actor(HOLDER, True)), None, ForbiddenError, "their own"),
        (REQUESTED, Validate(MANAGER_ACTS), SUPERSEDED, ConflictError, "newer version"),
        (REQUESTED, Validate(MANAGER_ACTS), DELETED, ConflictError, "deleted"),
        (given(Open(uuid7(), VERSION, BY_MANAGER), Validate(MANAGER_ACTS)), Validate(MANAGER_ACTS),
         None, ConflictError, "validated already"),
        (given(Open(uuid7(), VERSION, BY_MANAGER), Reject(MANAGER_ACTS, "no")), Claim(MANAGER_ACTS),
         None, ConflictError, "rejected already"),
    ],
)  # fmt: skip
def test_rejected_commands(
    history: list[Event], command: Command, context: Context | None,
    error: type[Exception], message: str,
) -> None:  # fmt: skip
    with pytest.raises(error, match=message):
        when(history, command, context)


def test_a_claimed_item_is_decided_by_its_claimer_or_an_admin() -> None:
    second = uuid7()
    routed = given(Open(uuid7(), VERSION, Routing(True, "reviewer_group", (MANAGER, second))))
    claimed = [*routed, *when(routed, Claim(MANAGER_ACTS))]
    with pytest.raises(ConflictError, match="another reviewer claimed"):
        when(claimed, Validate(Actor(second, False)))
    assert when(claimed, Validate(ADMIN_ACTS))
    released = when(claimed, Release(MANAGER_ACTS))
    review = fold([*claimed, *released])
    assert review is not None
    assert review.claimed_by is None
    with pytest.raises(ForbiddenError):
        when(claimed, Release(Actor(second, False)))
    with pytest.raises(ConflictError, match="not claimed"):
        when(routed, Release(MANAGER_ACTS))


def test_reroute_changes_reviewers_of_open_items_only() -> None:
    [rerouted] = when(REQUESTED, Reroute((OTHER,), "group_admins"))
    assert isinstance(rerouted, ReviewRequested)
    assert rerouted.reviewer_ids == [OTHER]
    review = fold([*REQUESTED, rerouted])
    assert review is not None
    assert review.reviewer_ids == (OTHER,)
    assert when(REQUESTED, Reroute((MANAGER,), "managers")) == []
    decided = given(Open(uuid7(), VERSION, BY_MANAGER), Validate(MANAGER_ACTS))
    assert when(decided, Reroute((OTHER,), "group_admins")) == []


def test_the_uploader_of_an_import_approves_its_items_in_bulk_and_only_in_bulk() -> None:
    uploader, import_id = uuid7(), uuid7()
    imported = Version(ORG, uuid7(), uuid7(), 1, HOLDER, uuid7(), import_id, uploader)
    history = given(Open(uuid7(), imported, BY_MANAGER))
    as_uploader = Actor(uploader, False)

    [approved] = when(history, Validate(as_uploader, bulk=True))
    assert isinstance(approved, CredentialValidated)
    assert approved.validated_by == uploader
    with pytest.raises(ForbiddenError):  # one by one, items stay with their reviewers
        when(history, Validate(as_uploader))
    by_hand = Version(ORG, uuid7(), uuid7(), 1, HOLDER, uuid7(), None, uploader)
    with pytest.raises(ForbiddenError):  # not an import: submitted by hand
        when(given(Open(uuid7(), by_hand, BY_MANAGER)), Validate(as_uploader, bulk=True))
    with pytest.raises(ForbiddenError):  # somebody else's import
        when(history, Validate(OTHER_ACTS, bulk=True))
    own = Version(ORG, uuid7(), uuid7(), 1, uploader, uuid7(), import_id, uploader)
    with pytest.raises(ForbiddenError):  # nobody reviews their own credential
        when(given(Open(uuid7(), own, BY_MANAGER)), Validate(as_uploader, bulk=True))
