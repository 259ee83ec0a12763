"""Directory decisions, as given-state / when-command / then-events."""

from __future__ import annotations

import pytest

from credflow_contracts.events.directory import (
    CredentialTypeState,
    CredentialTypeUpdated,
    OrganisationSettings,
    RequirementState,
    UserState,
    UserUpdated,
)
from credflow_contracts.ids import uuid7
from credflow_directory import domain

ORG = uuid7()


def user(**overrides: object) -> UserState:
    return UserState.model_validate(
        {"user_id": uuid7(), "email": "ann@example.test", "name": "Ann", "status": "active",
         "roles": ["worker"], **overrides}
    )  # fmt: skip


def test_updating_a_user_publishes_the_new_state_and_what_changed() -> None:
    given = user()
    [event] = domain.update_user(ORG, given, {"name": "Ann Lee", "time_zone": "Australia/Perth"})
    assert isinstance(event, UserUpdated)
    assert event.changed == ["name", "time_zone"]
    assert event.user == given.model_copy(
        update={"name": "Ann Lee", "time_zone": "Australia/Perth"}
    )


def test_an_update_that_changes_nothing_publishes_nothing() -> None:
    given = user()
    assert domain.update_user(ORG, given, {"name": "Ann"}) == []


def test_deactivating_twice_is_a_conflict_and_reactivating_restores_active() -> None:
    given = user()
    [deactivated] = domain.deactivate_user(ORG, given)
    assert deactivated.user.status == "deactivated"
    with pytest.raises(domain.ConflictError, match="already deactivated"):
        domain.deactivate_user(ORG, deactivated.user)
    [reactivated] = domain.reactivate_user(ORG, deactivated.user)
    assert reactivated.user.status == "active"
    with pytest.raises(domain.NotFoundError):
        domain.deactivate_user(ORG, None)


def test_nobody_manages_themselves() -> None:
    given = user()
    with pytest.raises(domain.InvalidError) as caught:
        domain.update_user(ORG, given, {"manager_id": given.user_id})
    assert caught.value.field == "manager_id"


def test_archived_types_take_no_changes_and_no_requirements() -> None:
    given = CredentialTypeState(credential_type_id=uuid7(), name="White card", expires=False)
    [archived] = domain.archive_credential_type(ORG, given)
    assert isinstance(archived, CredentialTypeUpdated)
    assert archived.changed == ["archived"]
    with pytest.raises(domain.ConflictError):
        domain.update_credential_type(ORG, archived.credential_type, {"credits": 1.0})
    requirement = RequirementState(
        requirement_id=uuid7(), credential_type_id=given.credential_type_id, scope="all_workers"
    )
    with pytest.raises(domain.InvalidError, match="archived"):
        domain.add_requirement(ORG, requirement, archived.credential_type, None)


@pytest.mark.parametrize(
    ("scope", "fields", "error_field"),
    [
        ("company", {}, "company_id"),
        ("group", {}, "group_id"),
        ("all_workers", {"company_id": uuid7()}, "company_id"),
    ],
)
def test_requirement_targets_must_match_their_scope(
    scope: str, fields: dict[str, object], error_field: str
) -> None:
    kind = CredentialTypeState(credential_type_id=uuid7(), name="First aid", expires=True)
    requirement = RequirementState.model_validate(
        {"requirement_id": uuid7(), "credential_type_id": kind.credential_type_id, "scope": scope,
         **fields}
    )  # fmt: skip
    with pytest.raises(domain.InvalidError) as caught:
        domain.add_requirement(ORG, requirement, kind, None)
    assert caught.value.field == error_field


def test_settings_routing_to_a_reviewer_group_needs_the_group() -> None:
    with pytest.raises(domain.InvalidError) as caught:
        domain.change_settings(ORG, OrganisationSettings(), {"reviewer_routing": "reviewer_group"},
                               uuid7())  # fmt: skip
    assert caught.value.field == "reviewer_group_id"
    group = uuid7()
    [event] = domain.change_settings(
        ORG, OrganisationSettings(),
        {"reviewer_routing": "reviewer_group", "reviewer_group_id": group}, uuid7(),
    )  # fmt: skip
    assert event.changed == ["reviewer_routing", "reviewer_group_id"]
    assert event.settings.reviewer_group_id == group


def test_a_legal_hold_is_placed_once_with_who_and_why_and_released_once() -> None:
    from datetime import UTC, datetime

    admin, now = uuid7(), datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    given = user()
    [placed] = domain.place_legal_hold(ORG, given, "Fair Work claim 2026-114", admin, now)
    assert placed.changed == ["legal_hold"]
    hold = placed.user.legal_hold
    assert hold is not None
    assert (hold.reason, hold.placed_by, hold.placed_at) == ("Fair Work claim 2026-114", admin, now)
    with pytest.raises(domain.ConflictError, match="already under legal hold"):
        domain.place_legal_hold(ORG, placed.user, "again", admin, now)
    assert placed.changed_by == admin
    [released] = domain.release_legal_hold(ORG, placed.user, admin)
    assert released.user.legal_hold is None
    assert (released.changed, released.changed_by) == (["legal_hold"], admin)
    with pytest.raises(domain.ConflictError, match="not under legal hold"):
        domain.release_legal_hold(ORG, released.user, admin)
    with pytest.raises(domain.NotFoundError):
        domain.place_legal_hold(ORG, None, "x", admin, now)


def test_who_may_be_erased_and_what_is_left_of_them() -> None:
    from datetime import UTC, datetime

    from credflow_contracts.events.directory import LegalHold
    from credflow_directory import privacy

    with pytest.raises(domain.NotFoundError):
        privacy.check_erasable(None, 3)
    held = user(legal_hold=LegalHold(reason="Claim 114", placed_by=uuid7(),
                                     placed_at=datetime.now(UTC)))  # fmt: skip
    with pytest.raises(domain.ConflictError, match=r"legal hold \(Claim 114\)"):
        privacy.check_erasable(held, 3)
    last_admin = user(roles=["admin"])
    with pytest.raises(domain.ConflictError, match="last active admin"):
        privacy.check_erasable(last_admin, 0)
    privacy.check_erasable(last_admin, 1)
    privacy.check_erasable(user(roles=["admin"], status="deactivated"), 0)
    privacy.check_erasable(user(), 0)

    assert privacy.next_erasure_step([]) == "deactivated"
    assert privacy.next_erasure_step(["deactivated", "key_destroyed"]) == (
        "personal_fields_replaced"
    )
    assert privacy.next_erasure_step(privacy.ERASURE_STEPS) is None
    gone = privacy.erased(held)
    assert (gone.name, gone.status, gone.legal_hold) == ("Erased person", "deactivated", None)
    assert gone.email == f"erased-{held.user_id}@erased.invalid"
    assert (gone.user_id, gone.roles) == (held.user_id, held.roles)
