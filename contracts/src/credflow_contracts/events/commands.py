"""Commands on `credflow.submission.commands`: the importer asks the submission service to record
credentials. Internal to credflow (not a public contract), but versioned the same way.

Keyed by credential id, which the importer derives from (import id, row number), so a command
delivered twice names the same credential and yields exactly one.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from credflow_contracts.events.base import Event
from credflow_contracts.events.values import Certification, Issuer, MediaFile
from credflow_contracts.topics import SUBMISSION_COMMANDS


class SubmitCredential(Event):
    TYPE: ClassVar[str] = "credflow.submission.submit_credential"
    VERSION: ClassVar[int] = 1
    TOPIC: ClassVar[str] = SUBMISSION_COMMANDS
    KEY_FIELD: ClassVar[str] = "credential_id"
    DESCRIPTION: ClassVar[str] = (
        "The importer asks for one row of an import to become a credential."
    )

    command_id: UUID
    credential_id: UUID
    organisation_id: UUID
    import_id: UUID
    row_number: int = Field(ge=1)
    holder_id: UUID
    credential_type_id: UUID
    issued_on: date
    expires_on: date | None = None
    certification: Certification | None = None
    issuer: Issuer | None = None
    notes: str | None = None
    media: list[MediaFile] = Field(default_factory=list)
    requested_by: UUID
