"""Reports of erasures on `credflow.erasures`: each service that holds a person's data tells
the directory, which started the erasure, that it erased its copies. Internal to credflow (not
a public contract), but versioned the same way. Ids and counts only."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import Field

from credflow_contracts.events.base import Event
from credflow_contracts.events.values import UtcDatetime
from credflow_contracts.topics import ERASURES


class ErasureReported(Event):
    TYPE: ClassVar[str] = "credflow.erasure.reported"
    VERSION: ClassVar[int] = 1
    TOPIC: ClassVar[str] = ERASURES
    KEY_FIELD: ClassVar[str] = "erasure_id"
    DESCRIPTION: ClassVar[str] = (
        "A service erased what it held of a person (after the directory's PersonErased)."
    )

    erasure_id: UUID
    organisation_id: UUID
    user_id: UUID
    service: str = Field(min_length=1, max_length=40)
    deleted: dict[str, int] = Field(
        default_factory=dict,
        description="What the service deleted, by kind (files, mails, reminders, rows...).",
    )
    reported_at: UtcDatetime
