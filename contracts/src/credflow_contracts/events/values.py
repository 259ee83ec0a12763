"""Value types shared by several events."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

NonEmpty = Annotated[str, Field(min_length=1)]


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A point in time. Must carry an offset; stored and published in UTC."""
MediaKind = Literal["pdf", "jpeg", "png"]
ALL_MEDIA_KINDS: tuple[MediaKind, ...] = ("pdf", "jpeg", "png")


class Value(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Issuer(Value):
    """Who issued a credential (a licensing authority, a training provider...)."""

    name: NonEmpty
    country: str | None = Field(
        default=None, description="ISO 3166-1 alpha-2 code of the issuing country."
    )
    registration_id: str | None = Field(
        default=None, description="The issuer's own identifier, e.g. an RTO or ABN number."
    )


class Certification(Value):
    """The number printed on the credential, and where it can be checked."""

    number: NonEmpty
    verification_url: str | None = None


class MediaFile(Value):
    """A file attached to a credential version. Its bytes stay in object storage; a subscriber
    asks the submission API for a short-lived signed URL."""

    media_id: UUID
    file_name: NonEmpty
    kind: MediaKind = Field(description="Detected from the bytes, not from the file name.")
    content_type: NonEmpty
    size_bytes: int = Field(ge=0)
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class ReviewEdits(Value):
    """Corrections a reviewer made while reviewing. Only the fields listed in `changed` were
    changed; the others keep the submitted values."""

    changed: list[Literal["title", "issued_on", "expires_on", "certification_number"]]
    title: str | None = None
    issued_on: date | None = None
    expires_on: date | None = None
    certification_number: str | None = None
