"""Who may see and manage whose data (PRODUCT.md, "People and roles"), as pure functions of the
caller and the facts about the person concerned. Every service asks these same questions: the
directory (whose profiles), submission (whose credentials), the views (whose rows), the importer
and reminder (who administers people). Services fetch the facts; the answers are here.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from credflow_common.auth import Principal

ORG_WIDE_ROLES = ("admin", "reviewer", "client_viewer")
"""Roles that see every person of their organisation."""
STAFF_ROLES = ("manager", "reviewer", "client_viewer")
MANAGE_PEOPLE = "users:manage"

CredentialManagement = Literal["self_service", "admin_managed"]


def administers_people(principal: Principal) -> bool:
    """Admins and holders of `users:manage`: change anyone's settings, import credentials,
    revoke, suspend and reinstate them."""
    return principal.has_role("admin") or principal.can(MANAGE_PEOPLE)


def sees_everyone(principal: Principal) -> bool:
    """Sees every person of the organisation (else only themselves and, as a manager, the
    people they manage)."""
    return principal.has_role(*ORG_WIDE_ROLES) or principal.can(MANAGE_PEOPLE)


def sees_others(principal: Principal) -> bool:
    """Sees anyone else at all: staff (a manager their people) and `users:manage`."""
    return principal.has_role("admin", *STAFF_ROLES) or principal.can(MANAGE_PEOPLE)


def manages(principal: Principal, manager_id: UUID | None) -> bool:
    """The caller is the manager of a person whose manager is `manager_id`."""
    return principal.has_role("manager") and manager_id == principal.user_id


def may_manage_credentials_of(
    principal: Principal,
    holder_id: UUID,
    holder_manager_id: UUID | None,
    management: CredentialManagement,
) -> bool:
    """May the caller add, edit or delete the credentials of this holder? Admins, reviewers
    and `users:manage` anyone's; a manager their people's; a worker their own when the
    organisation lets workers manage their own (`self_service`)."""
    if administers_people(principal) or principal.has_role("reviewer"):
        return True
    if manages(principal, holder_manager_id):
        return True
    return holder_id == principal.user_id and management == "self_service"


def may_manage_any_credentials(principal: Principal, management: CredentialManagement) -> bool:
    """Has the caller the right to manage some credential (their own included)?"""
    if administers_people(principal) or principal.has_role("reviewer", "manager"):
        return True
    return management == "self_service"


def may_read_credentials_of(
    principal: Principal, holder_id: UUID, holder_manager_id: UUID | None
) -> bool:
    """Their own; everyone's for the organisation-wide roles; a manager their people's."""
    if holder_id == principal.user_id or sees_everyone(principal):
        return True
    return manages(principal, holder_manager_id)
