"""Events of bulk imports, published on `credflow.imports`, keyed by import id."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import Field

from credflow_contracts.events.base import Event
from credflow_contracts.events.values import NonEmpty, UtcDatetime
from credflow_contracts.topics import IMPORTS


class ImportCompleted(Event):
    TYPE: ClassVar[str] = "credflow.import.completed"
    VERSION: ClassVar[int] = 1
    TOPIC: ClassVar[str] = IMPORTS
    KEY_FIELD: ClassVar[str] = "import_id"
    DESCRIPTION: ClassVar[str] = "Every valid row of an import became a credential."

    import_id: UUID
    organisation_id: UUID
    uploaded_by: UUID
    file_name: NonEmpty
    rows_total: int = Field(ge=0)
    credentials_created: int = Field(ge=0)
    approval_required: bool
    completed_at: UtcDatetime
