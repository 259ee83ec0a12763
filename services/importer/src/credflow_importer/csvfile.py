"""The import CSV: its template, and reading an upload into valid rows and a problem report.

Pure: the directory facts it checks against (users by email, credential types by name) are
passed in, so the same code serves the HTTP upload, the CLI and the tests.

Row numbers are spreadsheet rows: the header is row 1, the first credential row 2 (a quoted
cell may span several lines of the file; it is still one row). Rows whose cells are all empty,
and rows whose first cell starts with `#` (the template's column guide), are not credentials and
are skipped. Problems that concern the whole file (size, encoding, header, row count) have no
row, and a file with any of them is rejected as a whole: no row of it is valid.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from credflow_contracts.dates import CALENDAR_RANGE, LATEST_DATE, add_months, within_calendar
from credflow_contracts.events.directory import DateFormat

MAX_ROWS = 20_000
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_NOTES = 4000
MAX_TEXT = 200


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    description: str


def columns(date_format: DateFormat) -> tuple[Column, ...]:
    dates = f"in your date format, {date_format}"
    return (
        Column("email", True, "The holder's email address: a user of the organisation "
               "(capitals do not matter)."),
        Column("credential_type", True, "The credential type's name, as the organisation "
               "defines it (capitals do not matter)."),
        Column("issued_on", True, f"The issue date, {dates}."),
        Column("expires_on", False, f"The expiration date, {dates}, after the issue date. Leave "
               "it empty to use the type's default validity; optional for a type that does not "
               "expire."),
        Column("certification_number", False, "The number printed on the credential."),
        Column("issuer", False, "Who issued it (an authority or training provider)."),
        Column("notes", False, f"Anything else worth keeping (at most {MAX_NOTES} characters)."),
        Column("media_file", False, "The name of this row's file (PDF or image), uploaded in "
               "the media step."),
    )  # fmt: skip


COLUMN_NAMES = tuple(column.name for column in columns("YYYY-MM-DD"))
REQUIRED = tuple(column.name for column in columns("YYYY-MM-DD") if column.required)

_EXAMPLE_DATES = {"DD/MM/YYYY": ("15/03/2026", "15/03/2029"),
                  "MM/DD/YYYY": ("03/15/2026", "03/15/2029"),
                  "YYYY-MM-DD": ("2026-03-15", "2029-03-15")}  # fmt: skip


def template(date_format: DateFormat) -> str:
    """The CSV template: the header, one example row (replace it with real ones), then a guide
    to each column on `#` rows, which uploads skip."""
    issued, expires = _EXAMPLE_DATES[date_format]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMN_NAMES)
    writer.writerow(["jo.worker@example.com", "Electrical licence", issued, expires,
                     "EL-123456", "Energy Safe Victoria", "", "jo-electrical.pdf"])  # fmt: skip
    writer.writerow([f"# Rows starting with # are skipped. Dates are read as {date_format}."])
    for column in columns(date_format):
        need = "required" if column.required else "optional"
        writer.writerow([f"# {column.name} ({need}): {column.description}"])
    return out.getvalue()


def template_guide(date_format: DateFormat) -> list[dict[str, Any]]:
    """Each column of the template: its name, whether it is required, what it holds."""
    return [vars(column) for column in columns(date_format)]


# -- directory facts the rows are checked against ---------------------------------------------


@dataclass(frozen=True)
class KnownUser:
    user_id: UUID
    active: bool


@dataclass(frozen=True)
class KnownType:
    credential_type_id: UUID
    name: str
    expires: bool
    default_validity_months: int | None
    archived: bool
    media_required: bool


@dataclass(frozen=True)
class Directory:
    users_by_email: Mapping[str, KnownUser]  # lower-cased email
    types_by_name: Mapping[str, KnownType]  # lower-cased name


# -- the outcome ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    row: int | None  # None: the whole file
    column: str | None
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "code": self.code,
                "message": self.message}  # fmt: skip


@dataclass(frozen=True)
class ImportRow:
    row: int
    holder_id: UUID
    credential_type_id: UUID
    issued_on: date
    expires_on: date | None
    certification_number: str | None
    issuer: str | None
    notes: str | None
    media_file: str | None
    media_required: bool


@dataclass
class Validation:
    rows_total: int = 0
    valid: list[ImportRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def file_rejected(self) -> bool:
        return any(problem.row is None for problem in self.problems)

    @property
    def rejected_rows(self) -> int:
        return len({problem.row for problem in self.problems if problem.row is not None})


# -- reading --------------------------------------------------------------------------------


@dataclass
class ParsedFile:
    """A file read as CSV: its credential rows (spreadsheet row number, cells) and the problems
    of the whole file, before any row is checked."""

    header: list[str] = field(default_factory=list)
    body: list[tuple[int, list[str]]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def emails(self) -> set[str]:
        """The lower-cased holder emails the rows name (to look up only those users)."""
        if "email" not in self.header:
            return set()
        index = self.header.index("email")
        return {cells[index].strip().lower() for _, cells in self.body if len(cells) > index}


def read(raw: bytes, size: int | None = None) -> ParsedFile:
    """`size`: the whole file's, when `raw` holds only its start (a file too large to keep)."""
    size = max(size or 0, len(raw))
    if size > MAX_FILE_BYTES:
        return _unreadable(
            "file_too_large",
            f"the file has {size:,} bytes; at most {MAX_FILE_BYTES:,} are accepted",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _unreadable(
            "not_utf8",
            f"the file is not UTF-8 text (byte {exc.start:,} cannot be read); "
            "save it as “CSV UTF-8”",
        )
    if "\x00" in text:
        return _unreadable("not_csv", "the file holds binary data, not CSV text")
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        return _unreadable("not_csv", f"the file cannot be read as CSV: {exc}")
    if not records or not any(cell.strip() for cell in records[0]):
        return _unreadable("empty_file", "the file has no header row")
    header = [name.strip().lower() for name in records[0]]
    body = [(number, cells) for number, cells in enumerate(records[1:], start=2)
            if any(cell.strip() for cell in cells)
            and not cells[0].lstrip().startswith("#")]  # fmt: skip
    problems = _header_problems(header)
    if len(body) > MAX_ROWS:
        problems.append(Problem(
            None, None, "too_many_rows",
            f"the file has {len(body):,} rows; at most {MAX_ROWS:,} per import: split it",
        ))  # fmt: skip
    return ParsedFile(header, body, problems)


def validate(raw: bytes, date_format: DateFormat, directory: Directory) -> Validation:
    """Read an uploaded file; every problem is reported, per row and column."""
    return check(read(raw), date_format, directory)


def check(parsed: ParsedFile, date_format: DateFormat, directory: Directory) -> Validation:
    result = Validation(rows_total=len(parsed.body), problems=list(parsed.problems))
    if result.file_rejected:
        return result
    position = {name: index for index, name in enumerate(parsed.header)}
    parse_date = _DATE_PARSERS[date_format]
    first_row_of: dict[tuple[Any, ...], int] = {}
    for number, cells in parsed.body:
        row, problems = _read_row(number, cells, position, parse_date=parse_date,
                                  date_format=date_format, directory=directory)  # fmt: skip
        if row is not None:
            key = (row.holder_id, row.credential_type_id, row.issued_on, row.expires_on,
                   row.certification_number)  # fmt: skip
            if key in first_row_of:
                earlier = first_row_of[key]
                problems.append(
                    Problem(number, None, "duplicate_row", f"the same credential as row {earlier}")
                )
            else:
                first_row_of[key] = number
        if problems:
            result.problems.extend(problems)
        elif row is not None:
            result.valid.append(row)
    return result


def _unreadable(code: str, message: str) -> ParsedFile:
    return ParsedFile(problems=[Problem(None, None, code, message)])


def _header_problems(header: list[str]) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for name in header:
        if name in seen:
            problems.append(Problem(None, name, "duplicate_column",
                                    f"the column {name!r} appears more than once"))  # fmt: skip
        seen.add(name)
        if name not in COLUMN_NAMES:
            problems.append(Problem(
                None, name or None, "unknown_column",
                f"unknown column {name!r}; the columns are: {', '.join(COLUMN_NAMES)}",
            ))  # fmt: skip
    for name in REQUIRED:
        if name not in seen:
            problems.append(Problem(None, name, "missing_column",
                                    f"the required column {name!r} is missing"))  # fmt: skip
    return problems


def _read_row(
    number: int,
    cells: list[str],
    position: Mapping[str, int],
    *,
    parse_date: Any,
    date_format: DateFormat,
    directory: Directory,
) -> tuple[ImportRow | None, list[Problem]]:
    problems: list[Problem] = []

    def report(column: str | None, code: str, message: str) -> None:
        problems.append(Problem(number, column, code, message))

    if len(cells) != len(position):
        report(None, "wrong_cell_count", f"the row has {len(cells)} cells; the header has "
               f"{len(position)}")  # fmt: skip
        return None, problems
    values = {name: cells[index].strip() for name, index in position.items()}
    for name in REQUIRED:
        if not values[name]:
            report(name, "required", f"{name} is required")

    user = None
    if values["email"]:
        user = directory.users_by_email.get(values["email"].lower())
        if user is None:
            report("email", "unknown_user", f"no user with the email {values['email']!r}")
        elif not user.active:
            report("email", "user_deactivated", f"the user {values['email']!r} is deactivated")
    kind = None
    if values["credential_type"]:
        name = values["credential_type"]
        kind = directory.types_by_name.get(name.lower())
        if kind is None:
            report("credential_type", "unknown_credential_type", f"no credential type {name!r}")
        elif kind.archived:
            message = f"the credential type {kind.name!r} is archived: no new credentials"
            report("credential_type", "credential_type_archived", message)

    dates: dict[str, date | None] = {"issued_on": None, "expires_on": None}
    for name in dates:
        text = values.get(name, "")
        if text:
            day = parse_date(text)
            if day is None:
                report(name, "invalid_date", f"{text!r} is not a date in your date format, "
                       f"{date_format}")  # fmt: skip
            elif not within_calendar(day):
                report(name, "date_out_of_range", f"{text!r} is not a date {CALENDAR_RANGE}")
            else:
                dates[name] = day
    issued_on, expires_on = dates["issued_on"], dates["expires_on"]
    if (issued_on and not expires_on and not values.get("expires_on") and kind is not None
            and kind.expires and kind.default_validity_months):  # fmt: skip
        try:
            add_months(issued_on, kind.default_validity_months)
        except ValueError:
            report("expires_on", "date_out_of_range",
                   f"the expiry computed from the type's validity of "
                   f"{kind.default_validity_months} months would be after "
                   f"{LATEST_DATE.isoformat()}: give the expiration date")  # fmt: skip
    if issued_on and expires_on and expires_on <= issued_on:
        report("expires_on", "expires_before_issue",
               "the expiration date must be after the issue date")  # fmt: skip
    if (kind is not None and not kind.archived and kind.expires
            and not kind.default_validity_months and not values.get("expires_on")):  # fmt: skip
        report("expires_on", "expiry_required",
               f"a {kind.name} expires: give its expiration date")  # fmt: skip

    limits = {"certification_number": MAX_TEXT, "issuer": MAX_TEXT, "notes": MAX_NOTES,
              "media_file": MAX_TEXT}  # fmt: skip
    for name, limit in limits.items():
        if len(values.get(name, "")) > limit:
            report(name, "too_long", f"{name} has more than {limit} characters")

    if problems or user is None or kind is None or issued_on is None:
        return None, problems
    return ImportRow(
        row=number,
        holder_id=user.user_id,
        credential_type_id=kind.credential_type_id,
        issued_on=issued_on,
        expires_on=expires_on,
        certification_number=values.get("certification_number") or None,
        issuer=values.get("issuer") or None,
        notes=values.get("notes") or None,
        media_file=values.get("media_file") or None,
        media_required=kind.media_required,
    ), []


def _date_parser(pattern: str, order: tuple[str, str, str]) -> Any:
    compiled = re.compile(pattern)

    def parse(text: str) -> date | None:
        match = compiled.fullmatch(text)
        if match is None:
            return None
        parts = dict(zip(order, map(int, match.groups()), strict=True))
        try:
            return date(parts["year"], parts["month"], parts["day"])
        except ValueError:
            return None

    return parse


_DATE_PARSERS: dict[DateFormat, Any] = {
    "DD/MM/YYYY": _date_parser(r"(\d{1,2})/(\d{1,2})/(\d{4})", ("day", "month", "year")),
    "MM/DD/YYYY": _date_parser(r"(\d{1,2})/(\d{1,2})/(\d{4})", ("month", "day", "year")),
    "YYYY-MM-DD": _date_parser(r"(\d{4})-(\d{1,2})-(\d{1,2})", ("year", "month", "day")),
}
