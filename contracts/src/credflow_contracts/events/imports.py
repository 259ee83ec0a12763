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
    DESCRIPTION: ClassVar[str] = (
        "Every valid row of an import became a credential, or was refused (ImportRowRefused)."
    )

    import_id: UUID
    organisation_id: UUID
    uploaded_by: UUID
    file_name: NonEmpty
    rows_total: int = Field(ge=0)
    credentials_created: int = Field(ge=0)
    approval_required: bool
    completed_at: UtcDatetime
    rows_refused: int = Field(
        default=0, ge=0, description="Rows refused when they were applied (ImportRowRefused)."
    )


class ImportRowRefused(Event):
    TYPE: ClassVar[str] = "credflow.import.row_refused"
    VERSION: ClassVar[int] = 1
    TOPIC: ClassVar[str] = IMPORTS
    KEY_FIELD: ClassVar[str] = "import_id"
    DESCRIPTION: ClassVar[str] = (
        "A row that was valid when its import was checked could not become a credential when "
        "it was applied (its holder was deactivated or its type archived in between); no "
        "credential exists for it."
    )

    import_id: UUID
    organisation_id: UUID
    row_number: int = Field(ge=1)
    credential_id: UUID = Field(description="The id the credential would have had.")
    reason: NonEmpty
    field: str | None = Field(
        default=None, description="The command field at fault, e.g. holder_id."
    )
