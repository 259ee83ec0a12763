"""A person's privacy decisions, as pure functions: legal hold (placed and released by admins,
each change a `UserUpdated` in the person's stream, with who and when)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from credflow_common.errors import ConflictError, NotFoundError
from credflow_contracts.events.directory import LegalHold, UserState, UserUpdated


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
