"""The Credential decider: given events, when a command, then events (or a rejection)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from credflow_common.problems import status_of
from credflow_contracts.dates import add_months
from credflow_contracts.events.base import Event
from credflow_contracts.events.credentials import (
    CredentialDeleted,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSubmitted,
    CredentialSuspended,
    CredentialVersionEdited,
    MediaAttached,
    MediaRemoved,
    VersionAdded,
)
from credflow_contracts.events.values import Certification, MediaFile
from credflow_contracts.ids import uuid7
from credflow_submission.domain import (
    AddVersion,
    AttachMedia,
    Command,
    CredentialError,
    Delete,
    EditLatest,
    HolderInfo,
    InvalidError,
    NotFoundError,
    Reinstate,
    RemoveMedia,
    Revoke,
    Submit,
    Suspend,
    TransitionError,
    TypeRules,
    VersionDetails,
    decide,
    fold,
)

ORG, HOLDER, TYPE, ACTOR = uuid7(), uuid7(), uuid7(), uuid7()
CREDENTIAL = uuid7()
LICENCE = TypeRules(expires=True, default_validity_months=60)
ACTIVE = HolderInfo(active=True)


def media(name: str = "licence.pdf") -> MediaFile:
    return MediaFile(media_id=uuid7(), file_name=name, kind="pdf", content_type="application/pdf",
                     size_bytes=1024, sha256="ab" * 32)  # fmt: skip


def submit(**details: object) -> Submit:
    fields: dict[str, object] = {"issued_on": date(2026, 1, 31)} | details
    return Submit(CREDENTIAL, ORG, HOLDER, TYPE, uuid7(), VersionDetails(**fields), ACTOR)  # type: ignore[arg-type]


def given(*commands: Command) -> list[Event]:
    """The events of `commands` applied one after another (each must be accepted)."""
    events: list[Event] = []
    for command in commands:
        events += decide(command, fold(events), LICENCE, ACTIVE)
    return events


def when(history: list[Event], command: Command, rules: TypeRules = LICENCE,
         holder: HolderInfo = ACTIVE) -> list[Event]:  # fmt: skip
    return decide(command, fold(history), rules, holder)


# -- accepted -----------------------------------------------------------------------------------


def test_submit_computes_the_expiry_from_the_default_validity() -> None:
    [event] = when([], submit())
    assert isinstance(event, CredentialSubmitted)
    assert event.expires_on == date(2031, 1, 31)
    assert event.version_number == 1


def test_calendar_months_clamp_to_the_end_of_the_month() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2026, 11, 15), 14) == date(2028, 1, 15)


def test_a_type_that_does_not_expire_records_no_expiry() -> None:
    [event] = when([], submit(), rules=TypeRules(expires=False))
    assert isinstance(event, CredentialSubmitted)
    assert event.expires_on is None


def test_add_version_numbers_versions_and_keeps_the_earlier_ones() -> None:
    history = given(submit())
    [event] = when(
        history, AddVersion(uuid7(), VersionDetails(date(2026, 6, 1), date(2031, 6, 1)), ACTOR)
    )
    assert isinstance(event, VersionAdded)
    assert event.version_number == 2
    state = fold([*history, event])
    assert state is not None
    assert [v.number for v in state.versions] == [1, 2]


def test_edit_latest_records_what_changed() -> None:
    history = given(submit())
    [event] = when(history, EditLatest(ACTOR, {"certification": Certification(number="DL-9")}))
    assert isinstance(event, CredentialVersionEdited)
    assert event.changed == ["certification"]
    assert event.expires_on == date(2031, 1, 31), "unchanged fields keep their values"


def test_editing_the_issue_date_recomputes_a_computed_expiry_only_when_asked() -> None:
    history = given(submit(expires_on=date(2027, 1, 1)))
    [event] = when(history, EditLatest(ACTOR, {"issued_on": date(2026, 2, 1)}))
    assert isinstance(event, CredentialVersionEdited)
    assert event.changed == ["issued_on"]
    assert event.expires_on == date(2027, 1, 1)


def test_an_edit_that_changes_nothing_records_nothing() -> None:
    assert when(given(submit(notes="x")), EditLatest(ACTOR, {"notes": "x"})) == []


def test_media_is_attached_to_the_latest_version_and_removed_without_the_credential() -> None:
    file = media()
    history = given(submit(), AttachMedia(file, ACTOR))
    assert isinstance(history[-1], MediaAttached)
    [removed] = when(history, RemoveMedia(file.media_id, ACTOR))
    assert isinstance(removed, MediaRemoved)
    state = fold([*history, removed])
    assert state is not None
    assert state.lifecycle == "active"
    assert state.latest.media == ()


def test_suspend_then_reinstate_then_revoke_then_delete() -> None:
    history = given(submit(), Suspend("audit", ACTOR))
    reinstated = when(history, Reinstate(ACTOR))
    revoked = when([*history, *reinstated], Revoke("forged", ACTOR))
    deleted = when([*history, *reinstated, *revoked], Delete(ACTOR))
    assert [type(e) for e in (history[-1], *reinstated, *revoked, *deleted)] == [
        CredentialSuspended,
        CredentialReinstated,
        CredentialRevoked,
        CredentialDeleted,
    ]
    state = fold([*history, *reinstated, *revoked, *deleted])
    assert state is not None
    assert state.lifecycle == "deleted"


# -- rejected -----------------------------------------------------------------------------------

SUBMITTED = given(submit())
SUSPENDED = given(submit(), Suspend("audit", ACTOR))
REVOKED = given(submit(), Revoke("forged", ACTOR))
DELETED = given(submit(), Delete(ACTOR))
NEW_VERSION = AddVersion(uuid7(), VersionDetails(date(2026, 6, 1)), ACTOR)
EDIT = EditLatest(ACTOR, {"notes": "changed"})
ATTACH = AttachMedia(media(), ACTOR)


@pytest.mark.parametrize(
    ("history", "command", "error", "message"),
    [
        (SUBMITTED, submit(), TransitionError, "already exists"),
        ([], NEW_VERSION, NotFoundError, "no such credential"),
        ([], EDIT, NotFoundError, "no such credential"),
        ([], ATTACH, NotFoundError, "no such credential"),
        ([], RemoveMedia(uuid7(), ACTOR), NotFoundError, "no such credential"),
        ([], Delete(ACTOR), NotFoundError, "no such credential"),
        ([], Revoke("r", ACTOR), NotFoundError, "no such credential"),
        ([], Suspend("r", ACTOR), NotFoundError, "no such credential"),
        ([], Reinstate(ACTOR), NotFoundError, "no such credential"),
        (DELETED, NEW_VERSION, TransitionError, "deleted"),
        (DELETED, EDIT, TransitionError, "deleted"),
        (DELETED, ATTACH, TransitionError, "deleted"),
        (DELETED, RemoveMedia(uuid7(), ACTOR), NotFoundError, "no such credential"),
        (DELETED, Delete(ACTOR), TransitionError, "deleted already"),
        (DELETED, Revoke("r", ACTOR), NotFoundError, "no such credential"),
        (DELETED, Suspend("r", ACTOR), NotFoundError, "no such credential"),
        (DELETED, Reinstate(ACTOR), NotFoundError, "no such credential"),
        (REVOKED, NEW_VERSION, TransitionError, "revoked"),
        (REVOKED, EDIT, TransitionError, "revoked"),
        (REVOKED, ATTACH, TransitionError, "revoked"),
        (REVOKED, Revoke("again", ACTOR), TransitionError, "revoked already"),
        (REVOKED, Suspend("r", ACTOR), TransitionError, "it is revoked"),
        (REVOKED, Reinstate(ACTOR), TransitionError, "it is revoked"),
        (SUSPENDED, NEW_VERSION, TransitionError, "reinstate it"),
        (SUSPENDED, EDIT, TransitionError, "reinstate it"),
        (SUSPENDED, ATTACH, TransitionError, "reinstate it"),
        (SUSPENDED, Suspend("again", ACTOR), TransitionError, "it is suspended"),
        (SUBMITTED, Reinstate(ACTOR), TransitionError, "it is active"),
        (SUBMITTED, RemoveMedia(uuid7(), ACTOR), NotFoundError, "no such file"),
    ],
)
def test_transitions_that_make_no_sense_are_rejected(
    history: list[Event], command: Command, error: type[CredentialError], message: str
) -> None:
    with pytest.raises(error, match=message):
        when(history, command)


def test_attaching_the_same_file_twice_is_rejected() -> None:
    file = media()
    with pytest.raises(TransitionError, match="attached already"):
        when(given(submit(), AttachMedia(file, ACTOR)), AttachMedia(file, ACTOR))


EXPIRES = "expires_on"
ARCHIVED_TYPE = TypeRules(expires=True, default_validity_months=12, archived=True)
PHOTO_LICENCE = TypeRules(expires=True, default_validity_months=60, media_required=True)


def test_a_type_that_needs_media_takes_imported_rows_without_it() -> None:
    """The importer checks an import's files itself (media step, or media marked optional)."""
    [event] = when([], replace(submit(), import_id=uuid7()), PHOTO_LICENCE, ACTIVE)
    assert isinstance(event, CredentialSubmitted)
    assert event.media == []


@pytest.mark.parametrize(
    ("command", "rules", "holder", "field", "message"),
    [
        (submit(expires_on=date(2026, 1, 31)), LICENCE, ACTIVE, EXPIRES, "after the issue"),
        (submit(expires_on=date(2025, 1, 1)), LICENCE, ACTIVE, EXPIRES, "after the issue"),
        (submit(), TypeRules(expires=True), ACTIVE, EXPIRES, "give the expiration date"),
        (
            submit(expires_on=date(2025, 1, 1)),
            TypeRules(expires=False),
            ACTIVE,
            EXPIRES,
            "after the issue",
        ),
        (submit(), ARCHIVED_TYPE, ACTIVE, "credential_type_id", "archived"),
        (submit(), LICENCE, HolderInfo(active=False), "holder_id", "deactivated"),
        (submit(), PHOTO_LICENCE, ACTIVE, "files", "needs a file"),
    ],
)
def test_invalid_details_name_the_field(
    command: Command, rules: TypeRules, holder: HolderInfo, field: str, message: str
) -> None:
    with pytest.raises(InvalidError, match=message) as caught:
        when([], command, rules, holder)
    assert caught.value.field == field


@pytest.mark.parametrize("expires_on", [None, date(2029, 2, 1)])
def test_a_type_that_does_not_expire_takes_an_expiry_date_only_when_given(
    expires_on: date | None,
) -> None:
    """An external certificate may carry its own expiry date; most such types carry none."""
    [event] = when([], submit(expires_on=expires_on), TypeRules(expires=False), ACTIVE)
    assert isinstance(event, CredentialSubmitted)
    assert event.expires_on == expires_on


def test_a_version_keeps_the_name_on_its_certificate() -> None:
    events = given(submit(title="Working at heights (TAFE)"))
    [added] = when(events, AddVersion(uuid7(), VersionDetails(date(2027, 2, 1)), ACTOR))
    assert isinstance(events[0], CredentialSubmitted)
    assert events[0].title == "Working at heights (TAFE)"
    state = fold([*events, added])
    assert state is not None
    assert [v.title for v in state.versions] == ["Working at heights (TAFE)", None]


def test_edits_keep_expiry_after_issue() -> None:
    with pytest.raises(InvalidError, match="after the issue date") as caught:
        when(SUBMITTED, EditLatest(ACTOR, {"expires_on": date(2025, 12, 31)}))
    assert caught.value.field == "expires_on"
    with pytest.raises(InvalidError, match="cannot be removed"):
        when(SUBMITTED, EditLatest(ACTOR, {"issued_on": None}))


def test_new_versions_of_an_archived_type_or_a_deactivated_holder_are_rejected() -> None:
    with pytest.raises(InvalidError, match="archived"):
        when(SUBMITTED, NEW_VERSION, rules=ARCHIVED_TYPE)
    with pytest.raises(InvalidError, match="deactivated"):
        when(SUBMITTED, NEW_VERSION, holder=HolderInfo(active=False))


def test_the_http_layer_maps_each_kind_of_rejection_to_its_status() -> None:
    rejections = (NotFoundError("gone"), TransitionError("revoked"), InvalidError("bad date"))
    assert tuple(status_of(rejection) for rejection in rejections) == (404, 409, 422)


@pytest.mark.parametrize(
    ("command", "field", "message"),
    [
        # An import's command never passed an HTTP input model: the decider holds the rule too.
        (submit(issued_on=date(9999, 12, 31)), "issued_on", "between 1900-01-01"),
        (submit(issued_on=date(1899, 12, 31)), "issued_on", "between 1900-01-01"),
        (submit(expires_on=date(2200, 1, 1)), "expires_on", "and 2199-12-31"),
        # 60 months of validity from mid-2197 would end after the calendar does.
        (submit(issued_on=date(2197, 6, 1)), "issued_on", "validity of 60 months"),
    ],
)
def test_dates_outside_the_calendar_are_refused_with_their_field(
    command: Command, field: str, message: str
) -> None:
    with pytest.raises(InvalidError, match=message) as caught:
        when([], command)
    assert caught.value.field == field
    with pytest.raises(InvalidError, match="between 1900-01-01"):
        when(SUBMITTED, EditLatest(ACTOR, {"issued_on": date(1, 1, 1)}))
