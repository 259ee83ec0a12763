"""Events of the reminder service, published on `credflow.reminders`, keyed by credential id."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from credflow_contracts.events.base import Event
from credflow_contracts.events.values import UtcDatetime
from credflow_contracts.topics import REMINDERS


class ReminderSent(Event):
    TYPE: ClassVar[str] = "credflow.reminder.sent"
    VERSION: ClassVar[int] = 1
    TOPIC: ClassVar[str] = REMINDERS
    KEY_FIELD: ClassVar[str] = "credential_id"
    DESCRIPTION: ClassVar[str] = "An expiry reminder was emailed (each one exactly once)."

    reminder_id: UUID
    organisation_id: UUID
    credential_id: UUID
    version_id: UUID
    holder_id: UUID
    recipient_id: UUID
    recipient_role: Literal["holder", "manager"]
    kind: Literal["before_expiry", "after_expiry"]
    days_before_expiry: int | None = Field(
        default=None, description="Lead time for `before_expiry` reminders (e.g. 30, 7, 1)."
    )
    expires_on: date
    sent_at: UtcDatetime
