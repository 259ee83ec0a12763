"""The rows the views store about credentials: one dataclass per table (its fields are the
table's columns, in order), and `Views`, the rows of the credentials one batch touches."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, ClassVar
from uuid import UUID


class Row:
    """A row of a view table; its dataclass fields are the table's columns, in order."""

    TABLE: ClassVar[str]
    KEY: ClassVar[str]
    JSON_COLUMNS: ClassVar[tuple[str, ...]] = ()  # jsonb columns, held as JSON text
    TYPES: ClassVar[tuple[str, ...]]  # PostgreSQL types of the columns, for binary COPY

    def values(self) -> tuple[Any, ...]:
        # A dataclass instance's __dict__ holds exactly its fields, in declaration order.
        return tuple(self.__dict__.values())

    @classmethod
    @functools.cache
    def columns(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))  # type: ignore[arg-type]


@dataclass
class CredentialRow(Row):
    TABLE: ClassVar[str] = "credentials"
    KEY: ClassVar[str] = "credential_id"
    TYPES: ClassVar[tuple[str, ...]] = (
        "uuid",
        "uuid",
        "uuid",
        "uuid",
        "uuid",
        "int4",
        "text",
        "text",
        "text",
        "date",
        "date",
        "text",
        "text",
        "uuid",
        "uuid",
        "timestamptz",
        "timestamptz",
        "text",
        "text",
        "text",
        "uuid",
        "text",
        "text",
    )

    organisation_id: UUID
    credential_id: UUID
    holder_id: UUID
    credential_type_id: UUID
    latest_version_id: UUID
    version_number: int
    review: str
    lifecycle: str
    lifecycle_reason: str | None
    issued_on: date | None
    expires_on: date | None
    certification_number: str | None
    issuer_name: str | None
    internal_equivalent_id: UUID | None
    import_id: UUID | None
    created_at: datetime
    updated_at: datetime
    title: str | None = None  # the latest version's
    # Labels from the directory (`derived.py` keeps them current); empty until first set.
    holder_name: str = ""
    holder_email: str = ""
    company_id: UUID | None = None
    company_name: str | None = None
    type_name: str = ""


@dataclass
class VersionRow(Row):
    TABLE: ClassVar[str] = "credential_versions"
    KEY: ClassVar[str] = "version_id"
    TYPES: ClassVar[tuple[str, ...]] = (
        "uuid",
        "uuid",
        "uuid",
        "int4",
        "date",
        "date",
        "text",
        "jsonb",
        "jsonb",
        "text",
        "text",
        "text",
        "uuid",
        "timestamptz",
        "uuid",
        "timestamptz",
        "uuid",
        "text",
    )
    JSON_COLUMNS: ClassVar[tuple[str, ...]] = ("certification", "issuer")

    version_id: UUID
    credential_id: UUID
    organisation_id: UUID
    version_number: int
    issued_on: date | None
    expires_on: date | None
    certification_number: str | None
    certification: str | None  # JSON
    issuer: str | None  # JSON
    notes: str | None
    review: str
    review_comment: str | None
    reviewed_by: UUID | None
    reviewed_at: datetime | None
    created_by: UUID
    created_at: datetime
    import_id: UUID | None
    title: str | None = None


@dataclass
class MediaRow(Row):
    TABLE: ClassVar[str] = "credential_media"
    KEY: ClassVar[str] = "media_id"
    TYPES: ClassVar[tuple[str, ...]] = (
        "uuid",
        "uuid",
        "uuid",
        "uuid",
        "text",
        "text",
        "text",
        "int8",
        "text",
        "uuid",
        "timestamptz",
    )

    media_id: UUID
    credential_id: UUID
    version_id: UUID
    organisation_id: UUID
    file_name: str
    kind: str
    content_type: str
    size_bytes: int
    sha256: str
    attached_by: UUID
    attached_at: datetime


@dataclass
class ReviewItemRow(Row):
    TABLE: ClassVar[str] = "review_items"
    KEY: ClassVar[str] = "review_id"
    TYPES: ClassVar[tuple[str, ...]] = (
        "uuid",
        "uuid",
        "uuid",
        "uuid",
        "int4",
        "uuid",
        "uuid",
        "text",
        "uuid[]",
        "uuid",
        "timestamptz",
        "text",
        "uuid",
        "timestamptz",
        "uuid",
        "timestamptz",
        "text",
    )

    review_id: UUID
    organisation_id: UUID
    credential_id: UUID
    version_id: UUID
    version_number: int
    holder_id: UUID
    credential_type_id: UUID
    routing: str
    reviewer_ids: list[UUID]
    import_id: UUID | None
    requested_at: datetime
    state: str
    claimed_by: UUID | None = None
    claimed_at: datetime | None = None
    decided_by: UUID | None = None
    decided_at: datetime | None = None
    comment: str | None = None


@dataclass
class AuditRow(Row):
    TABLE: ClassVar[str] = "audit"
    KEY: ClassVar[str] = "event_id"
    TYPES: ClassVar[tuple[str, ...]] = (
        "uuid",
        "uuid",
        "uuid",
        "timestamptz",
        "text",
        "uuid",
        "uuid",
        "uuid",
        "jsonb",
    )

    event_id: UUID
    organisation_id: UUID
    credential_id: UUID
    occurred_at: datetime
    action: str
    actor_id: UUID | None
    version_id: UUID | None
    import_id: UUID | None
    detail: str  # JSON


@dataclass
class Views:
    """The rows of the credentials a batch touches, keyed by their primary keys, and what the
    batch changed. Rows deleted here are removed from the tables on store."""

    credentials: dict[UUID, CredentialRow] = field(default_factory=dict)
    versions: dict[UUID, VersionRow] = field(default_factory=dict)
    media: dict[UUID, MediaRow] = field(default_factory=dict)
    review_items: dict[UUID, ReviewItemRow] = field(default_factory=dict)  # open ones
    items_of: dict[UUID, set[UUID]] = field(default_factory=dict)  # credential → review ids
    audit: list[AuditRow] = field(default_factory=list)
    dirty: set[UUID] = field(default_factory=set)  # keys of rows to write back
    deleted: dict[str, set[UUID]] = field(default_factory=dict)  # table → keys to delete

    def add_item(self, item: ReviewItemRow) -> None:
        self.review_items[item.review_id] = item
        self.items_of.setdefault(item.credential_id, set()).add(item.review_id)
        self.touch(item.review_id)

    def touch(self, key: UUID) -> None:
        self.dirty.add(key)

    def drop(self, row_type: type[Row], key: UUID) -> None:
        self.deleted.setdefault(row_type.TABLE, set()).add(key)
        self.dirty.discard(key)
