"""Bulk upsert of users (a SCIM-like sync) from CSV or JSON.

Rows are matched to existing users by email, ignoring case. Every row is validated first
(fields, references to companies, groups and managers, duplicates inside the file); valid rows
are then created or updated, each with its events, and rejected rows are reported by row number
(a CSV's header is row 1, as in a spreadsheet; a JSON list starts at 1) and field and not
written. A row whose manager is a rejected row is rejected too.

Columns (CSV header or JSON keys): email, name, manager_email, company (name), groups (names,
`;`-separated), roles (`;`-separated: admin, manager, reviewer, worker, client_viewer),
permissions (`;`-separated), date_format, time_zone, status (active or deactivated).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from credflow_common.eventstore import Metadata
from credflow_common.inputs import parse_json
from credflow_contracts.events.directory import (
    CompanyState,
    DateFormat,
    GroupState,
    Role,
    UserState,
)
from credflow_contracts.ids import uuid7
from credflow_directory import domain
from credflow_directory.domain import DirectoryError
from credflow_directory.inputs import Email, Name, TimeZone
from credflow_directory.store import DirectoryStore

COLUMNS = (
    "email",
    "name",
    "manager_email",
    "company",
    "groups",
    "roles",
    "permissions",
    "date_format",
    "time_zone",
    "status",
)
MAX_ROWS = 20_000


class SyncRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    name: Name | None = None
    manager_email: Email | None = None
    company: str | None = None
    groups: list[str] = Field(default_factory=list)
    roles: list[Role] | None = None
    permissions: list[str] | None = None
    date_format: DateFormat | None = None
    time_zone: TimeZone | None = None
    status: str | None = Field(default=None, pattern="^(active|deactivated)$")

    @field_validator("groups", "roles", "permissions", mode="before")
    @classmethod
    def split_lists(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(";") if part.strip()]
        return value

    @field_validator(
        "name", "manager_email", "company", "date_format", "time_zone", "status", mode="before"
    )
    @classmethod
    def blank_is_absent(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    code: str
    message: str


@dataclass
class SyncReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected_rows(self) -> set[int]:
        return {error.row for error in self.errors}

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": len(self.rejected_rows),
            "errors": [vars(error) for error in self.errors],
        }


@dataclass(frozen=True)
class Upload:
    """The rows of an upload and the number its first row is reported under: 2 in a CSV file
    (the header is row 1, as in a spreadsheet and the importer's report), 1 in JSON."""

    rows: list[Any]
    first_row: int


def parse_rows(raw: bytes, content_type: str) -> Upload:
    """The rows of a CSV or JSON upload; raises ValueError for a file that cannot be read."""
    if content_type in ("text/csv", "application/csv"):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(f"the file is not UTF-8 (byte {exc.start})") from exc
        if "\x00" in text:
            raise ValueError("the file holds binary data (a NUL character), not CSV text")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [name.strip() for name in reader.fieldnames or []]
        if "email" not in header:
            raise ValueError("the CSV needs an `email` column")
        unknown = [name for name in header if name not in COLUMNS]
        if unknown:
            raise ValueError(
                f"unknown column(s): {', '.join(unknown)}; known: {', '.join(COLUMNS)}"
            )
        rows: list[Any] = [
            {k.strip(): v for k, v in row.items() if k is not None} for row in reader
        ]
        first_row = 2
    elif content_type == "application/json":
        document = parse_json(raw)  # a ProblemError naming the field when it is not usable
        if not isinstance(document, dict) or not isinstance(document.get("users"), list):
            raise ValueError('the body must be {"users": [...]}')
        rows, first_row = document["users"], 1
    else:
        raise ValueError("send text/csv or application/json")
    if len(rows) > MAX_ROWS:
        raise ValueError(f"{len(rows)} rows; at most {MAX_ROWS} per sync")
    return Upload(rows, first_row)


async def sync_users(
    conn: AsyncConnection[Any],
    store: DirectoryStore,
    org: UUID,
    upload: Upload,
    metadata: Metadata,
) -> SyncReport:
    raw_rows = upload.rows
    report = SyncReport(rows=len(raw_rows))
    existing = {
        u.email.lower(): u for u in await store.select(conn, org, "user", UserState, limit=10**7)
    }
    companies = {
        c.name.lower(): c.company_id
        for c in await store.select(conn, org, "company", CompanyState, limit=10**6)
    }
    groups = {
        g.name.lower(): g.group_id
        for g in await store.select(conn, org, "group", GroupState, limit=10**6)
    }

    parsed: dict[int, SyncRow] = {}
    first_row_of: dict[str, int] = {}
    for number, raw in enumerate(raw_rows, start=upload.first_row):
        if not isinstance(raw, dict):
            report.errors.append(RowError(number, "row", "invalid_row", "a row must be an object"))
            continue
        try:
            row = SyncRow.model_validate(raw)
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"]) or "row"
                report.errors.append(RowError(number, where, error["type"], error["msg"]))
            continue
        key = row.email.lower()
        if key in first_row_of:
            report.errors.append(
                RowError(
                    number, "email", "duplicate_row", f"the same email as row {first_row_of[key]}"
                )
            )
            continue
        first_row_of[key] = number
        problems = _reference_problems(number, row, existing.get(key), companies, groups)
        if problems:
            report.errors.extend(problems)
            continue
        parsed[number] = row

    # Managers must exist already or be valid rows of this file; drop rows whose manager fell.
    ids = {email: user.user_id for email, user in existing.items()}
    ids.update(
        {row.email.lower(): uuid7() for row in parsed.values() if row.email.lower() not in ids}
    )
    changed = True
    while changed:
        changed = False
        valid_emails = set(existing) | {row.email.lower() for row in parsed.values()}
        for number, row in list(parsed.items()):
            manager = row.manager_email.lower() if row.manager_email else None
            if manager is not None and manager not in valid_emails:
                report.errors.append(
                    RowError(
                        number,
                        "manager_email",
                        "unknown_manager",
                        "no such user (nor a valid row of this file)",
                    )
                )
                del parsed[number]
                changed = True

    for number, row in sorted(parsed.items()):
        current = existing.get(row.email.lower())
        values = _values(row, ids, companies, groups)
        try:
            async with conn.transaction():  # one row: all of it or nothing
                if current is None:
                    values.setdefault("roles", ["worker"])
                    user = UserState(
                        user_id=ids[row.email.lower()],
                        status=values.pop("status", "active"),
                        **values,
                    )
                    created = domain.create_user(org, None, user)
                    await store.save(conn, org, "user", user.user_id, expected_version=0,
                                     events=created, state=user, metadata=metadata)  # fmt: skip
                    report.created += 1
                else:
                    _, version = await store.get(conn, org, "user", current.user_id, UserState)
                    events = domain.update_user(org, current, values)
                    if events:
                        await store.save(
                            conn, org, "user", current.user_id, expected_version=version,
                            events=events, state=events[-1].user, metadata=metadata,
                        )  # fmt: skip
                        report.updated += 1
                    else:
                        report.unchanged += 1
        except (DirectoryError, ValidationError) as exc:
            message = exc.message if isinstance(exc, DirectoryError) else str(exc)
            where = (exc.field or "row") if isinstance(exc, DirectoryError) else "row"
            report.errors.append(RowError(number, where, "rejected", message))
    report.errors.sort(key=lambda error: (error.row, error.field))
    return report


def _reference_problems(
    number: int,
    row: SyncRow,
    current: UserState | None,
    companies: dict[str, UUID],
    groups: dict[str, UUID],
) -> list[RowError]:
    problems = []
    if current is None and row.name is None:
        problems.append(RowError(number, "name", "missing", "a new user needs a name"))
    if row.company is not None and row.company.lower() not in companies:
        problems.append(
            RowError(number, "company", "unknown_company", f"no company {row.company!r}")
        )
    for group in row.groups:
        if group.lower() not in groups:
            problems.append(RowError(number, "groups", "unknown_group", f"no group {group!r}"))
    if row.manager_email is not None and row.manager_email.lower() == row.email.lower():
        problems.append(
            RowError(number, "manager_email", "self_manager", "a user cannot be their own manager")
        )
    return problems


def _values(
    row: SyncRow, ids: dict[str, UUID], companies: dict[str, UUID], groups: dict[str, UUID]
) -> dict[str, Any]:
    """The user fields this row sets (columns left empty keep their current value)."""
    values: dict[str, Any] = {"email": row.email}
    if row.name is not None:
        values["name"] = row.name
    if row.manager_email is not None:
        values["manager_id"] = ids[row.manager_email.lower()]
    if row.company is not None:
        values["company_id"] = companies[row.company.lower()]
    if row.groups:
        values["group_ids"] = [groups[g.lower()] for g in row.groups]
    if row.roles is not None:
        values["roles"] = row.roles
    if row.permissions is not None:
        values["permissions"] = row.permissions
    for name in ("date_format", "time_zone", "status"):
        if getattr(row, name) is not None:
            values[name] = getattr(row, name)
    return values
