"""Reading an import CSV: one kept file per kind of problem (tests/data/imports), each giving
the right report, and the accepted shapes (BOM, CRLF, quoted commas and newlines)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import pytest

from credflow_contracts.events.directory import DateFormat
from credflow_importer.csvfile import (
    COLUMN_NAMES,
    MAX_FILE_BYTES,
    MAX_ROWS,
    Directory,
    KnownType,
    KnownUser,
    template,
    validate,
)

FILES = Path(__file__).resolve().parents[1] / "data" / "imports"
NS = UUID("6b1c1c59-1d51-4c4a-9b8e-2d7c4f1f0a11")
JO, SAM, OLD = (uuid5(NS, name) for name in ("jo", "sam", "old"))
ELECTRICAL, FIRST_AID, WHITE_CARD, OLD_TICKET = (
    uuid5(NS, name) for name in ("electrical", "first-aid", "white-card", "old-ticket")
)


def known_type(type_id: UUID, name: str, **overrides: Any) -> KnownType:
    plain = KnownType(type_id, name, expires=True, default_validity_months=None,
                      archived=False, media_required=False)  # fmt: skip
    return replace(plain, **overrides)


DIRECTORY = Directory(
    users_by_email={
        "jo@example.com": KnownUser(JO, active=True),
        "sam@example.com": KnownUser(SAM, active=True),
        "old@example.com": KnownUser(OLD, active=False),
    },
    types_by_name={
        "electrical licence": known_type(ELECTRICAL, "Electrical licence", media_required=True),
        "first aid": known_type(FIRST_AID, "First aid", default_validity_months=36),
        "white card": known_type(WHITE_CARD, "White card", expires=False),
        "old ticket": known_type(OLD_TICKET, "Old ticket", archived=True),
    },
)


Found = tuple[int | None, str | None, str]


def read(name: str, date_format: DateFormat = "DD/MM/YYYY") -> tuple[list[Found], int]:
    result = validate((FILES / name).read_bytes(), date_format, DIRECTORY)
    problems = [(p.row, p.column, p.code) for p in result.problems]
    return problems, len(result.valid)


def test_a_valid_file_gives_one_row_per_credential_matched_case_insensitively() -> None:
    result = validate((FILES / "valid.csv").read_bytes(), "DD/MM/YYYY", DIRECTORY)
    assert result.problems == []
    assert result.rows_total == 3
    first, second, third = result.valid
    assert (first.row, first.holder_id, first.credential_type_id) == (2, JO, ELECTRICAL)
    assert (first.issued_on, first.expires_on) == (date(2026, 3, 15), date(2029, 3, 15))
    assert (first.certification_number, first.issuer, first.media_file) == (
        "EL-1", "Energy Safe Victoria", "jo-el.pdf",
    )  # fmt: skip
    assert first.media_required
    assert (second.holder_id, second.credential_type_id, second.expires_on) == (
        JO, FIRST_AID, None,  # the type's default validity applies
    )  # fmt: skip
    assert (third.issued_on, third.notes) == (date(2020, 2, 1), "long-standing")


def test_bom_crlf_and_quoted_commas_and_newlines_are_accepted() -> None:
    result = validate((FILES / "bom_crlf_quoted.csv").read_bytes(), "DD/MM/YYYY", DIRECTORY)
    assert result.problems == []
    assert [row.row for row in result.valid] == [2, 3]
    assert result.valid[0].issuer == "Energy Safe Victoria, Melbourne"
    assert result.valid[0].notes == 'Checked on site,\nthen scanned "as is"'


@pytest.mark.parametrize(
    ("name", "problems", "valid"),
    [
        ("unknown_credential_type.csv", [(2, "credential_type", "unknown_credential_type")], 1),
        ("archived_credential_type.csv", [(2, "credential_type", "credential_type_archived")], 0),
        ("unknown_user.csv", [(2, "email", "unknown_user")], 1),
        ("deactivated_user.csv", [(2, "email", "user_deactivated")], 0),
        (
            "invalid_date.csv",
            [(2, "issued_on", "invalid_date"), (2, "expires_on", "invalid_date")],
            1,
        ),
        ("expires_before_issue.csv", [(2, "expires_on", "expires_before_issue")], 0),
        (
            "empty_required_cell.csv",
            [
                (2, "email", "required"),
                (2, "issued_on", "required"),
                (3, "credential_type", "required"),
            ],
            0,
        ),
        ("duplicate_rows.csv", [(4, None, "duplicate_row")], 2),
        (
            "expiry_rules.csv",
            [(3, "expires_on", "expiry_required")],
            1,  # a type that does not expire may carry an expiry date
        ),
        ("wrong_cell_count.csv", [(2, None, "wrong_cell_count")], 0),
    ],
)
def test_each_row_problem_is_reported_by_row_column_and_code(
    name: str, problems: list[Found], valid: int
) -> None:
    assert read(name) == (problems, valid)


@pytest.mark.parametrize(
    ("name", "problems"),
    [
        ("missing_column.csv", [(None, "issued_on", "missing_column")]),
        ("unknown_column.csv", [(None, "colour", "unknown_column")]),
        ("duplicated_column.csv", [(None, "email", "duplicate_column")]),
        ("not_utf8.csv", [(None, None, "not_utf8")]),
        ("random_bytes.bin", [(None, None, "not_utf8")]),
    ],
)
def test_a_file_level_problem_rejects_the_whole_file(name: str, problems: list[Found]) -> None:
    assert read(name) == (problems, 0)


def test_every_problem_has_a_message_a_person_understands() -> None:
    result = validate((FILES / "invalid_date.csv").read_bytes(), "DD/MM/YYYY", DIRECTORY)
    assert [p.message for p in result.problems] == [
        "'2026-03-15' is not a date in your date format, DD/MM/YYYY",
        "'31/02/2029' is not a date in your date format, DD/MM/YYYY",
    ]
    result = validate((FILES / "not_utf8.csv").read_bytes(), "DD/MM/YYYY", DIRECTORY)
    assert "not UTF-8" in result.problems[0].message


def test_dates_are_read_in_the_uploaders_format() -> None:
    # 15/03/2026 has no 15th month: wrong for an MM/DD/YYYY uploader.
    problems, _ = read("valid.csv", "MM/DD/YYYY")
    assert (2, "issued_on", "invalid_date") in problems
    result = validate(b"email,credential_type,issued_on\njo@example.com,White card,2026-03-15\n",
                      "YYYY-MM-DD", DIRECTORY)  # fmt: skip
    assert result.valid[0].issued_on == date(2026, 3, 15)


def test_more_than_20000_rows_rejects_the_file_with_a_clear_message() -> None:
    line = "jo@example.com,White card,01/01/2020\n"
    raw = ("email,credential_type,issued_on\n" + line * (MAX_ROWS + 1)).encode()
    result = validate(raw, "DD/MM/YYYY", DIRECTORY)
    assert [(p.row, p.code) for p in result.problems] == [(None, "too_many_rows")]
    assert result.problems[0].message == (
        "the file has 20,001 rows; at most 20,000 per import: split it"
    )
    assert result.valid == []


def test_exactly_20000_rows_are_accepted() -> None:
    rng = random.Random(7)
    rows = "".join(
        f"jo@example.com,White card,{rng.randrange(1, 28):02}/{rng.randrange(1, 13):02}/"
        f"{2000 + index // 400}\n"
        for index in range(MAX_ROWS)
    )
    result = validate(("email,credential_type,issued_on\n" + rows).encode(), "DD/MM/YYYY",
                      DIRECTORY)  # fmt: skip
    assert result.rows_total == MAX_ROWS
    assert len(result.valid) + result.rejected_rows == MAX_ROWS


def test_a_file_too_large_is_rejected_before_it_is_read() -> None:
    result = validate(b"x" * (MAX_FILE_BYTES + 1), "DD/MM/YYYY", DIRECTORY)
    assert [(p.row, p.code) for p in result.problems] == [(None, "file_too_large")]


def test_the_template_reads_back_as_its_example_row_with_the_guide_skipped() -> None:
    text = template("DD/MM/YYYY")
    assert text.splitlines()[0] == ",".join(COLUMN_NAMES)
    assert "# issued_on (required): The issue date, in your date format, DD/MM/YYYY." in text
    result = validate(text.encode(), "DD/MM/YYYY", DIRECTORY)
    # The example row names a user and a type this organisation may not have; the guide rows
    # are skipped, so the only problems are the example's.
    assert result.rows_total == 1
    assert {p.code for p in result.problems} <= {"unknown_user", "unknown_credential_type"}


def test_dates_outside_the_calendar_are_row_problems() -> None:
    raw = (
        b"email,credential_type,issued_on,expires_on\n"
        b"jo@example.com,First aid,31/12/9999,\n"
        b"jo@example.com,Electrical licence,01/01/2020,01/01/2200\n"
        b"sam@example.com,First aid,01/06/2197,\n"  # 36 months of validity: past 2199-12-31
        b"sam@example.com,First aid,01/06/2196,\n"
    )
    result = validate(raw, "DD/MM/YYYY", DIRECTORY)
    assert [(p.row, p.column, p.code) for p in result.problems] == [
        (2, "issued_on", "date_out_of_range"),
        (3, "expires_on", "date_out_of_range"),
        (4, "expires_on", "date_out_of_range"),
    ]
    assert "between 1900-01-01 and 2199-12-31" in result.problems[0].message
    assert [row.row for row in result.valid] == [5]


def test_a_file_too_large_names_its_real_size() -> None:
    from credflow_importer.csvfile import MAX_FILE_BYTES, read

    parsed = read(b"x" * (MAX_FILE_BYTES + 1), size=31_457_735)
    assert "31,457,735 bytes" in parsed.problems[0].message
