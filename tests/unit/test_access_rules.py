"""Who may see and manage whose credentials: the shared rules, given a caller and a holder."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from credflow_common import access_rules
from credflow_common.auth import Principal

ORG = uuid4()
ME = uuid4()
SOMEONE = uuid4()


def caller(*roles: str, permissions: tuple[str, ...] = ()) -> Principal:
    return Principal(ME, ORG, frozenset(roles), frozenset(permissions))


@pytest.mark.parametrize(
    ("who", "holder", "manager_of_holder", "management", "allowed"),
    [
        (caller("admin"), SOMEONE, None, "admin_managed", True),
        (caller(permissions=("users:manage",)), SOMEONE, None, "admin_managed", True),
        (caller("reviewer"), SOMEONE, None, "admin_managed", True),
        (caller("manager"), SOMEONE, ME, "admin_managed", True),
        (caller("manager"), SOMEONE, uuid4(), "self_service", False),  # not their person
        (caller("worker"), ME, None, "self_service", True),
        (caller("worker"), ME, None, "admin_managed", False),  # the organisation manages them
        (caller("worker"), SOMEONE, None, "self_service", False),
        (caller("client_viewer"), SOMEONE, None, "self_service", False),
    ],
)
def test_who_may_manage_a_holders_credentials(
    who: Principal, holder: UUID, manager_of_holder: UUID | None, management: str, allowed: bool
) -> None:
    # given a caller and a holder (with their manager), when asked whether the caller may
    # manage the holder's credentials under the organisation's setting, then:
    answer = access_rules.may_manage_credentials_of(
        who,
        holder,
        manager_of_holder,
        management,  # type: ignore[arg-type]
    )
    assert answer is allowed


@pytest.mark.parametrize(
    ("who", "management", "allowed"),
    [
        (caller("manager"), "admin_managed", True),
        (caller("reviewer"), "admin_managed", True),
        (caller("worker"), "self_service", True),
        (caller("worker"), "admin_managed", False),
        (caller("client_viewer"), "admin_managed", False),
    ],
)
def test_who_may_manage_any_credential_at_all(
    who: Principal, management: str, allowed: bool
) -> None:
    assert access_rules.may_manage_any_credentials(who, management) is allowed  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("who", "holder", "manager_of_holder", "allowed"),
    [
        (caller("worker"), ME, None, True),  # their own
        (caller("worker"), SOMEONE, ME, False),  # managing needs the manager role
        (caller("client_viewer"), SOMEONE, None, True),
        (caller("reviewer"), SOMEONE, None, True),
        (caller(permissions=("users:manage",)), SOMEONE, None, True),
        (caller("manager"), SOMEONE, ME, True),
        (caller("manager"), SOMEONE, None, False),
    ],
)
def test_whose_credentials_a_caller_sees(
    who: Principal, holder: UUID, manager_of_holder: UUID | None, allowed: bool
) -> None:
    assert access_rules.may_read_credentials_of(who, holder, manager_of_holder) is allowed


def test_staff_see_others_and_only_org_wide_roles_see_everyone() -> None:
    # given each role, then: managers see others (their people) but not everyone; workers
    # see neither; admins, reviewers and client viewers see everyone
    assert [access_rules.sees_others(caller(r)) for r in ("manager", "worker")] == [True, False]
    assert not access_rules.sees_everyone(caller("manager"))
    assert all(access_rules.sees_everyone(caller(r)) for r in access_rules.ORG_WIDE_ROLES)
    assert access_rules.administers_people(caller(permissions=("users:manage",)))
    assert not access_rules.administers_people(caller("reviewer"))
