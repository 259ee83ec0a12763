"""A person's privacy decisions, as pure functions: legal hold (placed and released by admins,
each change a `UserUpdated` in the person's stream, with who and when) and erasure (who may be
erased, the steps of an erasure in their order, and what is left of the person after it)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from uuid import UUID

from credflow_common.errors import ConflictError, NotFoundError
from credflow_contracts.events.directory import LegalHold, UserState, UserUpdated

ERASE_PERMISSION = "privacy:erase"
ERASED_NAME = "Erased person"
ERASURE_STEPS = ("deactivated", "key_destroyed", "personal_fields_replaced", "announced")
"""In order: deactivate the person (their tokens stop working), destroy their data key, replace
their name and email everywhere the directory's events reach (replicas, views), then tell
every subscriber (`PersonErased`)."""


def place_legal_hold(
    organisation_id: UUID, current: UserState | None, reason: str, by: UUID, at: datetime
) -> list[UserUpdated]:
    if current is None:
        raise NotFoundError("no such user")
    if current.legal_hold is not None:
        raise ConflictError(
            f"the person is already under legal hold: {current.legal_hold.reason}", "reason"
        )
    held = current.model_copy(update={"legal_hold": LegalHold(reason=reason, placed_by=by,
                                                               placed_at=at)})  # fmt: skip
    return [UserUpdated(organisation_id=organisation_id, user=held, changed=["legal_hold"],
                        changed_by=by)]  # fmt: skip


def release_legal_hold(
    organisation_id: UUID, current: UserState | None, by: UUID
) -> list[UserUpdated]:
    if current is None:
        raise NotFoundError("no such user")
    if current.legal_hold is None:
        raise ConflictError("the person is not under legal hold")
    released = current.model_copy(update={"legal_hold": None})
    return [UserUpdated(organisation_id=organisation_id, user=released, changed=["legal_hold"],
                        changed_by=by)]  # fmt: skip


def check_erasable(person: UserState | None, other_active_admins: int) -> None:
    """Refuses the erasure of nobody, of a person under legal hold, or of the organisation's
    last active admin (nobody could administer it afterwards)."""
    if person is None:
        raise NotFoundError("no such user")
    if person.legal_hold is not None:
        raise ConflictError(
            f"the person is under legal hold ({person.legal_hold.reason}) and may not be"
            " erased until it is released",
            "legal_hold",
        )
    if person.status == "active" and "admin" in person.roles and other_active_admins == 0:
        raise ConflictError("the organisation's last active admin cannot be erased")


def next_erasure_step(done: Collection[str]) -> str | None:
    return next((step for step in ERASURE_STEPS if step not in done), None)


def erased(person: UserState) -> UserState:
    """What the directory keeps of an erased person: their id, roles and memberships (their
    credentials stay countable), no name, email or time zone."""
    return person.model_copy(
        update={
            "name": ERASED_NAME,
            "email": f"erased-{person.user_id}@erased.invalid",
            "status": "deactivated",
            "legal_hold": None,
            "time_zone": None,
        }
    )
