"""Request bodies of the directory API. Unknown fields are refused (422 naming the field)."""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field

from credflow_common.inputs import Input, Patch, single_line
from credflow_contracts.events.directory import (
    AssessmentQuestion,
    DateFormat,
    OrganisationSettings,
    Role,
)
from credflow_contracts.events.values import MediaKind

DEFAULT_ROLES: tuple[Role, ...] = ("worker",)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    value = value.strip()
    if not EMAIL.match(value):
        raise ValueError("not an email address")
    return value


def _time_zone(value: str) -> str:
    try:
        if len(value) > 64:  # the longest IANA name has 32 characters
            raise ValueError(value)
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: not a file name
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name such as Australia/Sydney)"
        ) from None
    return value


Permission = Literal["users:manage", "privacy:erase"]
"""`users:manage`: manage others' credentials and users; `privacy:erase`: erase people (with
the admin role)."""
Email = Annotated[str, AfterValidator(_email)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(single_line)]


class LegalHoldInput(Input):
    reason: Annotated[
        str, Field(min_length=1, max_length=1000, description="Why the person may not be erased.")
    ]


class SettingsInput(Patch):
    """Settings to change (or, at creation, to set); left out: unchanged (or the default)."""

    clearable: ClassVar[frozenset[str]] = frozenset({"reviewer_group_id"})

    credential_management: Literal["self_service", "admin_managed"] | None = None
    validation_required: bool | None = None
    reviewer_routing: Literal["managers", "group_admins", "reviewer_group"] | None = None
    reviewer_group_id: UUID | None = None
    review_notifications: Literal["immediate", "digest"] | None = None
    expiring_soon_days: int | None = Field(default=None, ge=1, le=365)
    allowed_media_kinds: list[MediaKind] | None = Field(default=None, min_length=1)
    max_media_bytes: int | None = Field(default=None, ge=1024, le=200 * 1024 * 1024)
    default_date_format: DateFormat | None = None
    time_zone: TimeZone | None = None


class AdminInput(Input):
    email: Email
    name: Name


class OrganisationInput(Input):
    name: Name
    organisation_id: UUID | None = None
    settings: SettingsInput = Field(default_factory=SettingsInput)
    admin: AdminInput


class UserInput(Input):
    email: Email
    name: Name
    manager_id: UUID | None = None
    company_id: UUID | None = None
    group_ids: list[UUID] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=lambda: list(DEFAULT_ROLES), min_length=1)
    permissions: list[Permission] = Field(default_factory=list)
    date_format: DateFormat | None = None
    time_zone: TimeZone | None = None


class UserPatch(Patch):
    clearable: ClassVar[frozenset[str]] = frozenset(
        {"manager_id", "company_id", "date_format", "time_zone"}
    )

    email: Email | None = None
    name: Name | None = None
    manager_id: UUID | None = None
    company_id: UUID | None = None
    group_ids: list[UUID] | None = None
    roles: list[Role] | None = Field(default=None, min_length=1)
    permissions: list[Permission] | None = None
    date_format: DateFormat | None = None
    time_zone: TimeZone | None = None


class CompanyInput(Input):
    name: Name


class CompanyPatch(Patch):
    name: Name | None = None
    archived: bool | None = None


class GroupInput(Input):
    name: Name
    admin_ids: list[UUID] = Field(default_factory=list)


class GroupPatch(Patch):
    name: Name | None = None
    admin_ids: list[UUID] | None = None


class CredentialTypeInput(Input):
    name: Name
    expires: bool = True
    default_validity_months: int | None = Field(default=None, ge=1, le=1200)
    validation_required: bool | None = None
    media_required: bool = False
    allowed_media_kinds: list[MediaKind] | None = Field(default=None, min_length=1)
    internal_equivalent_id: UUID | None = None
    credits: float | None = Field(default=None, ge=0)


class CredentialTypePatch(Patch):
    clearable: ClassVar[frozenset[str]] = frozenset(
        {"default_validity_months", "validation_required", "allowed_media_kinds",
         "internal_equivalent_id", "credits"}
    )  # fmt: skip

    name: Name | None = None
    expires: bool | None = None
    default_validity_months: int | None = Field(default=None, ge=1, le=1200)
    validation_required: bool | None = None
    media_required: bool | None = None
    allowed_media_kinds: list[MediaKind] | None = Field(default=None, min_length=1)
    internal_equivalent_id: UUID | None = None
    credits: float | None = Field(default=None, ge=0)


class RequirementInput(Input):
    credential_type_id: UUID
    scope: Literal["all_workers", "company", "group"]
    company_id: UUID | None = None
    group_id: UUID | None = None


class AssessmentInput(Input):
    name: Name
    questions: list[AssessmentQuestion] = Field(min_length=1)


class AnswersInput(Input):
    user_id: UUID | None = Field(default=None, description="Whose answers; default: the caller.")
    answers: dict[UUID, bool]


def settings_changes(patch: SettingsInput) -> dict[str, object]:
    """The fields a patch sets (explicit nulls included, unset ones left out)."""
    return patch.model_dump(exclude_unset=True)


def default_settings(patch: SettingsInput) -> OrganisationSettings:
    return OrganisationSettings.model_validate(settings_changes(patch))


def fields_sent(patch: BaseModel) -> dict[str, Any]:
    """The fields a patch sets to a value (one sent as null changes nothing)."""
    return {k: v for k, v in patch.model_dump(exclude_unset=True).items() if v is not None}
