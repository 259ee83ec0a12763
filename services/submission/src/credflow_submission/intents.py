"""What a caller asks of a credential: the commands `domain.decide` takes, and the directory
facts it needs to decide them (plain values, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from credflow_contracts.events.credentials import (
    EditableField,
)
from credflow_contracts.events.values import Certification, Issuer, MediaFile

# -- what decisions need to know from the directory ---------------------------------------------


@dataclass(frozen=True)
class TypeRules:
    expires: bool
    default_validity_months: int | None = None
    archived: bool = False
    media_required: bool = False


@dataclass(frozen=True)
class HolderInfo:
    active: bool


# -- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionDetails:
    issued_on: date
    expires_on: date | None = None
    certification: Certification | None = None
    issuer: Issuer | None = None
    notes: str | None = None
    media: tuple[MediaFile, ...] = ()
    title: str | None = None


@dataclass(frozen=True)
class Submit:
    credential_id: UUID
    organisation_id: UUID
    holder_id: UUID
    credential_type_id: UUID
    version_id: UUID
    details: VersionDetails
    by: UUID
    import_id: UUID | None = None


@dataclass(frozen=True)
class AddVersion:
    version_id: UUID
    details: VersionDetails
    by: UUID
    import_id: UUID | None = None


@dataclass(frozen=True)
class EditLatest:
    by: UUID
    changes: dict[EditableField, object] = field(default_factory=dict)


@dataclass(frozen=True)
class AttachMedia:
    media: MediaFile
    by: UUID


@dataclass(frozen=True)
class RemoveMedia:
    media_id: UUID
    by: UUID


@dataclass(frozen=True)
class Delete:
    by: UUID
    reason: str | None = None


@dataclass(frozen=True)
class Revoke:
    reason: str
    by: UUID


@dataclass(frozen=True)
class Suspend:
    reason: str
    by: UUID
    until: date | None = None


@dataclass(frozen=True)
class Reinstate:
    by: UUID
    note: str | None = None


Command = (
    Submit
    | AddVersion
    | EditLatest
    | AttachMedia
    | RemoveMedia
    | Delete
    | Revoke
    | Suspend
    | Reinstate
)
