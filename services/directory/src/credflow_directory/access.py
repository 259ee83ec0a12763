"""Who may read and change what in the directory: admins change it; managers, reviewers, client
viewers and `users:manage` read it, managers only their own people (as in the views)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from credflow_common import access_rules
from credflow_common.auth import Principal
from credflow_common.problems import ProblemError


def require_admin(principal: Principal, org: UUID) -> None:
    principal.require_organisation(org)
    if not principal.has_role("admin"):
        raise ProblemError(403, "Forbidden", "only organisation admins change directory data")


def require_staff(principal: Principal, org: UUID) -> None:
    principal.require_organisation(org)
    if not access_rules.sees_others(principal):
        raise ProblemError(403, "Forbidden", "workers see only their own profile")


def managed_by(principal: Principal, org: UUID) -> UUID | None:
    """Whose people the caller sees, as in the views: everyone (None) for admins, reviewers,
    client viewers and `users:manage`; a manager only the people they manage (and themselves)."""
    require_staff(principal, org)
    if access_rules.sees_everyone(principal):
        return None
    return principal.user_id


def people_of(manager_id: UUID | None) -> tuple[str, list[Any]]:
    """A `state` clause limiting users to a manager's people (none: no limit)."""
    if manager_id is None:
        return "", []
    return "(state->>'manager_id' = %s OR id = %s)", [str(manager_id), str(manager_id)]
