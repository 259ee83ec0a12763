"""Events of the credential lifecycle, published on `credflow.credentials`, keyed by credential id.

Written by the submission service (submitted ... reinstated), the review service (review
requested ... rejected) and the reminder service (expired).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from credflow_contracts.events.base import Event
from credflow_contracts.events.values import (
    Certification,
    Issuer,
    MediaFile,
    NonEmpty,
    ReviewEdits,
    UtcDatetime,
)
from credflow_contracts.topics import CREDENTIALS

SealingHolder = Annotated[
    UUID | None,
    Field(
        description="The credential's holder, whose data key seals this event's personal fields."
    ),
]
"""`holder_id` of the events that carry personal fields but no holder of their own."""


class CredentialEvent(Event):
    TOPIC: ClassVar[str] = CREDENTIALS
    KEY_FIELD: ClassVar[str] = "credential_id"

    credential_id: UUID
    organisation_id: UUID


class CredentialSubmittedV1(CredentialEvent):
    """Superseded by v2 (structured issuer and certification). Still readable: upcast on read."""

    TYPE: ClassVar[str] = "credflow.credential.submitted"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A credential was recorded with its first version."

    holder_id: UUID
    credential_type_id: UUID
    version_id: UUID
    issued_on: date
    expires_on: date | None = None
    certification_number: str | None = None
    issuer: str | None = None
    notes: str | None = None
    media: list[MediaFile] = Field(default_factory=list)
    submitted_by: UUID
    import_id: UUID | None = None


class CredentialSubmitted(CredentialEvent):
    TYPE: ClassVar[str] = "credflow.credential.submitted"
    VERSION: ClassVar[int] = 2
    DESCRIPTION: ClassVar[str] = "A credential was recorded with its first version."

    holder_id: UUID
    credential_type_id: UUID
    version_id: UUID
    version_number: int = Field(default=1, ge=1)
    title: str | None = Field(
        default=None,
        description="The name on the certificate (an external course's, say), when it has one.",
    )
    issued_on: date
    expires_on: date | None = Field(
        default=None, description="Absent when the credential type does not expire."
    )
    certification: Certification | None = None
    issuer: Issuer | None = None
    notes: str | None = None
    media: list[MediaFile] = Field(default_factory=list)
    submitted_by: UUID
    import_id: UUID | None = Field(
        default=None, description="The bulk import that created it, if any."
    )


class VersionAdded(CredentialEvent):
    TYPE: ClassVar[str] = "credflow.credential.version_added"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A new version (a renewal) became the credential's latest."

    holder_id: UUID
    credential_type_id: UUID
    version_id: UUID
    version_number: int = Field(ge=2)
    title: str | None = Field(
        default=None,
        description="The name on the certificate (an external course's, say), when it has one.",
    )
    issued_on: date
    expires_on: date | None = None
    certification: Certification | None = None
    issuer: Issuer | None = None
    notes: str | None = None
    media: list[MediaFile] = Field(default_factory=list)
    added_by: UUID
    import_id: UUID | None = None


EditableField = Literal["issued_on", "expires_on", "certification", "issuer", "notes"]


class CredentialVersionEdited(CredentialEvent):
    TYPE: ClassVar[str] = "credflow.credential.version_edited"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = (
        "The latest version was corrected. Fields in `changed` carry their new value "
        "(null clears it); other fields are unchanged."
    )

    version_id: UUID
    version_number: int = Field(ge=1)
    changed: list[EditableField] = Field(min_length=1)
    issued_on: date | None = None
    expires_on: date | None = None
    certification: Certification | None = None
    issuer: Issuer | None = None
    notes: str | None = None
    edited_by: UUID
    holder_id: SealingHolder = None


class MediaAttached(CredentialEvent):
    TYPE: ClassVar[str] = "credflow.credential.media_attached"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A file was attached to a version."

    version_id: UUID
    media: MediaFile
    attached_by: UUID
    holder_id: SealingHolder = None


class MediaRemoved(CredentialEvent):
    TYPE: ClassVar[str] = "credflow.credential.media_removed"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A file was removed from a version; the credential stays."

    version_id: UUID
    media_id: UUID
    removed_by: UUID


class CredentialDeleted(CredentialEvent):
    TYPE: ClassVar[str] = "credflow.credential.deleted"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "The credential was deleted with all its versions and files."

    holder_id: UUID
    deleted_by: UUID
    reason: str | None = None


class CredentialRevoked(CredentialEvent):
    TYPE: ClassVar[str] = "credflow.credential.revoked"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "An admin revoked the credential (final)."

    reason: NonEmpty
    revoked_by: UUID
    holder_id: SealingHolder = None


class CredentialSuspended(CredentialEvent):
    TYPE: ClassVar[str] = "credflow.credential.suspended"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "An admin suspended the credential until reinstated."

    reason: NonEmpty
    suspended_by: UUID
    holder_id: SealingHolder = None
    until: date | None = Field(default=None, description="Planned end, informational only.")


class CredentialReinstated(CredentialEvent):
    TYPE: ClassVar[str] = "credflow.credential.reinstated"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A suspension was lifted."

    reinstated_by: UUID
    holder_id: SealingHolder = None
    note: str | None = None


ReviewerRouting = Literal["managers", "group_admins", "reviewer_group"]


class ReviewRequested(CredentialEvent):
    TYPE: ClassVar[str] = "credflow.credential.review_requested"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A version needs a reviewer's decision; routed to reviewers."

    review_id: UUID
    version_id: UUID
    version_number: int = Field(ge=1)
    holder_id: UUID
    credential_type_id: UUID
    routing: ReviewerRouting
    reviewer_ids: list[UUID] = Field(min_length=1)
    reviewer_group_id: UUID | None = None
    import_id: UUID | None = None
    submitted_by: UUID | None = Field(
        default=None,
        description="Who submitted the version under review (for an import, its uploader).",
    )


class ReviewClaimed(CredentialEvent):
    TYPE: ClassVar[str] = "credflow.credential.review_claimed"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A reviewer took a review item."

    review_id: UUID
    version_id: UUID
    claimed_by: UUID


class ReviewReleased(CredentialEvent):
    TYPE: ClassVar[str] = "credflow.credential.review_released"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A reviewer released a claimed review item back to the queue."

    review_id: UUID
    version_id: UUID
    released_by: UUID


class CredentialAccepted(CredentialEvent):
    TYPE: ClassVar[str] = "credflow.credential.accepted"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = (
        "A version was accepted without review because its type needs no validation "
        "(status `submitted`)."
    )

    version_id: UUID
    version_number: int = Field(ge=1)


class CredentialValidated(CredentialEvent):
    TYPE: ClassVar[str] = "credflow.credential.validated"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A reviewer accepted a version (status `verified`)."

    review_id: UUID
    version_id: UUID
    validated_by: UUID
    holder_id: SealingHolder = None
    comment: str | None = None
    edits: ReviewEdits | None = None
    internal_equivalent_id: UUID | None = Field(
        default=None, description="The certificate template this credential counts as."
    )
    bulk: bool = Field(default=False, description="Approved as part of a bulk approval.")


class CredentialRejected(CredentialEvent):
    TYPE: ClassVar[str] = "credflow.credential.rejected"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = (
        "A reviewer rejected a version (status `not_accepted`); a new version is needed."
    )

    review_id: UUID
    version_id: UUID
    rejected_by: UUID
    holder_id: SealingHolder = None
    comment: NonEmpty
    edits: ReviewEdits | None = None
    internal_equivalent_id: UUID | None = Field(
        default=None,
        description="The certificate template the reviewer associated (kept for the next version).",
    )


class CredentialExpired(CredentialEvent):
    TYPE: ClassVar[str] = "credflow.credential.expired"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = (
        "The latest version's expiration date passed in the organisation's time zone. "
        "Published once per version."
    )

    holder_id: UUID
    credential_type_id: UUID
    version_id: UUID
    expires_on: date
    detected_at: UtcDatetime
