"""What the console offers a person, mirroring the services' rules so that a button is only
shown when the API would accept its action (the API still decides: a refusal it gives anyway
is shown on the page)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from credflow_console.keys import Person

Body = dict[str, Any]


def manages_everyone(person: Person) -> bool:
    return person.has_role("admin", "reviewer") or "users:manage" in person.permissions


def may_manage(person: Person, holder: Body, settings: Body) -> bool:
    """May `person` add, edit or delete the credentials of `holder` (a views worker profile)?"""
    if manages_everyone(person):
        return True
    if person.has_role("manager") and holder.get("manager_id") == str(person.user_id):
        return True
    if holder.get("user_id") == str(person.user_id):
        return settings.get("credential_management") == "self_service"
    return False


def is_self(person: Person, holder_id: str | UUID | None) -> bool:
    return str(holder_id) == str(person.user_id)


def sees_everyone(person: Person) -> bool:
    """Whose views cover the whole organisation (the views API's rule)."""
    return person.has_role("admin", "reviewer", "client_viewer") or (
        "users:manage" in person.permissions
    )
