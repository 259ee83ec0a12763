"""Request bodies of the submission API. Unknown fields are refused (422 naming the field)."""

from __future__ import annotations

from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import AfterValidator, Field

from credflow_common.inputs import Input, Patch, single_line
from credflow_contracts.dates import CalendarDate
from credflow_contracts.events.values import Certification, Issuer

Text = Annotated[str, Field(min_length=1, max_length=2000)]


class VersionInput(Input):
    title: Annotated[str, AfterValidator(single_line)] | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        description="The name on the certificate (an external course's, say).",
    )
    issued_on: CalendarDate
    expires_on: CalendarDate | None = None
    certification: Certification | None = None
    issuer: Issuer | None = None
    notes: str | None = Field(default=None, max_length=4000)


class CredentialInput(VersionInput):
    credential_type_id: UUID
    holder_id: UUID | None = Field(default=None, description="Default: the caller.")


class EditInput(Patch):
    clearable: ClassVar[frozenset[str]] = frozenset(
        {"expires_on", "certification", "issuer", "notes"}
    )

    issued_on: CalendarDate | None = None
    expires_on: CalendarDate | None = None
    certification: Certification | None = None
    issuer: Issuer | None = None
    notes: str | None = Field(default=None, max_length=4000)


class ReasonInput(Input):
    reason: Text


class SuspendInput(ReasonInput):
    until: CalendarDate | None = None


class ReinstateInput(Input):
    note: str | None = Field(default=None, max_length=2000)


class DeleteManyInput(Input):
    credential_ids: list[UUID] = Field(min_length=1, max_length=1000)
    reason: str | None = Field(default=None, max_length=2000)
