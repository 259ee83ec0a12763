"""Events of the directory (organisations and their reference data), on `credflow.directory`.

Every directory event is keyed by organisation id, so one organisation's directory changes are
read in the order they happened (a requirement never arrives before its credential type).
Created/updated events carry the entity's whole state, so a replica upserts without merging.
"""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from credflow_contracts.events.base import Event
from credflow_contracts.events.values import (
    ALL_MEDIA_KINDS,
    MediaKind,
    NonEmpty,
    UtcDatetime,
    Value,
)
from credflow_contracts.topics import DIRECTORY

DateFormat = Literal["DD/MM/YYYY", "MM/DD/YYYY", "YYYY-MM-DD"]
Role = Literal["admin", "manager", "reviewer", "worker", "client_viewer"]


class DirectoryEvent(Event):
    TOPIC: ClassVar[str] = DIRECTORY
    KEY_FIELD: ClassVar[str] = "organisation_id"

    organisation_id: UUID


class OrganisationSettings(Value):
    credential_management: Literal["self_service", "admin_managed"] = "self_service"
    validation_required: bool = Field(
        default=True, description="Default for credential types that do not override it."
    )
    reviewer_routing: Literal["managers", "group_admins", "reviewer_group"] = "managers"
    reviewer_group_id: UUID | None = None
    review_notifications: Literal["immediate", "digest"] = "immediate"
    expiring_soon_days: int = Field(default=30, ge=1)
    allowed_media_kinds: list[MediaKind] = Field(default_factory=lambda: list(ALL_MEDIA_KINDS))
    max_media_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    default_date_format: DateFormat = "DD/MM/YYYY"
    time_zone: str = Field(default="UTC", description="IANA time zone name.")


class OrganisationCreated(DirectoryEvent):
    TYPE: ClassVar[str] = "credflow.directory.organisation_created"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A tenant was created with its initial settings."

    name: NonEmpty
    settings: OrganisationSettings


class OrganisationSettingsChanged(DirectoryEvent):
    TYPE: ClassVar[str] = "credflow.directory.organisation_settings_changed"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "The organisation's settings changed (full new settings)."

    settings: OrganisationSettings
    changed: list[str] = Field(description="Names of the settings that changed.")
    changed_by: UUID


class LegalHold(Value):
    """A person kept from erasure (a dispute, an investigation): set and cleared by admins."""

    reason: NonEmpty
    placed_by: UUID
    placed_at: UtcDatetime


class UserState(Value):
    user_id: UUID
    email: NonEmpty
    name: NonEmpty
    status: Literal["active", "deactivated"]
    manager_id: UUID | None = None
    company_id: UUID | None = None
    group_ids: list[UUID] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=list)
    permissions: list[str] = Field(
        default_factory=list, description="Extra permissions, e.g. `users:manage`."
    )
    date_format: DateFormat | None = Field(
        default=None, description="Absent: the organisation's default date format."
    )
    time_zone: str | None = None
    legal_hold: LegalHold | None = Field(
        default=None, description="Set while the person may not be erased; absent otherwise."
    )


class UserCreated(DirectoryEvent):
    TYPE: ClassVar[str] = "credflow.directory.user_created"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A user joined the organisation."

    user: UserState


class UserUpdated(DirectoryEvent):
    TYPE: ClassVar[str] = "credflow.directory.user_updated"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = (
        "A user's details changed (full new state), including deactivation and reactivation."
    )

    user: UserState
    changed: list[str]
    changed_by: UUID | None = Field(
        default=None,
        description="Who made the change, where it is audited (a legal hold placed or"
        " released); absent otherwise.",
    )


class PersonErased(DirectoryEvent):
    TYPE: ClassVar[str] = "credflow.directory.person_erased"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = (
        "A person was erased at their request: forget everything you hold about them. The"
        " event names them by id only; their data key is destroyed, so their sealed fields in"
        " any event can no longer be opened."
    )

    user_id: UUID
    erasure_id: UUID
    erased_at: UtcDatetime


class CompanyState(Value):
    company_id: UUID
    name: NonEmpty
    archived: bool = False


class CompanyCreated(DirectoryEvent):
    TYPE: ClassVar[str] = "credflow.directory.company_created"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A contractor company was added."

    company: CompanyState


class CompanyUpdated(DirectoryEvent):
    TYPE: ClassVar[str] = "credflow.directory.company_updated"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A contractor company changed (full new state)."

    company: CompanyState


class GroupState(Value):
    group_id: UUID
    name: NonEmpty
    admin_ids: list[UUID] = Field(default_factory=list)


class GroupCreated(DirectoryEvent):
    TYPE: ClassVar[str] = "credflow.directory.group_created"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A group (team, role, reviewer group) was created."

    group: GroupState


class GroupUpdated(DirectoryEvent):
    TYPE: ClassVar[str] = "credflow.directory.group_updated"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A group changed (full new state)."

    group: GroupState


class CredentialTypeState(Value):
    credential_type_id: UUID
    name: NonEmpty
    expires: bool
    default_validity_months: int | None = Field(default=None, ge=1)
    validation_required: bool | None = Field(
        default=None, description="Absent: the organisation's setting applies."
    )
    media_required: bool = False
    allowed_media_kinds: list[MediaKind] | None = None
    internal_equivalent_id: UUID | None = None
    credits: float | None = Field(default=None, ge=0)
    archived: bool = False


class CredentialTypeCreated(DirectoryEvent):
    TYPE: ClassVar[str] = "credflow.directory.credential_type_created"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A credential type was defined."

    credential_type: CredentialTypeState


class CredentialTypeUpdated(DirectoryEvent):
    TYPE: ClassVar[str] = "credflow.directory.credential_type_updated"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A credential type changed (full new state), including archiving."

    credential_type: CredentialTypeState
    changed: list[str]


class RequirementState(Value):
    requirement_id: UUID
    credential_type_id: UUID
    scope: Literal["all_workers", "company", "group"]
    company_id: UUID | None = Field(default=None, description="Set when scope is `company`.")
    group_id: UUID | None = Field(default=None, description="Set when scope is `group`.")


class RequirementAdded(DirectoryEvent):
    TYPE: ClassVar[str] = "credflow.directory.requirement_added"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A credential type became required for a set of workers."

    requirement: RequirementState


class RequirementRemoved(DirectoryEvent):
    TYPE: ClassVar[str] = "credflow.directory.requirement_removed"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A requirement no longer applies."

    requirement_id: UUID


class AssessmentQuestion(Value):
    question_id: UUID
    text: NonEmpty
    requires_credential_type_ids: list[UUID] = Field(default_factory=list)


class AssessmentDefined(DirectoryEvent):
    TYPE: ClassVar[str] = "credflow.directory.assessment_defined"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A worker assessment (yes/no questions) was defined or changed."

    assessment_id: UUID
    name: NonEmpty
    questions: list[AssessmentQuestion]


class AssessmentAnswered(DirectoryEvent):
    TYPE: ClassVar[str] = "credflow.directory.assessment_answered"
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = "A worker answered an assessment (all answers, latest wins)."

    assessment_id: UUID
    user_id: UUID
    answers: dict[UUID, bool]
