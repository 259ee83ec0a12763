"""The rules every input follows: text PostgreSQL can store, bounded JSON, no null where a value
is required, and one calendar (1900-01-01..2199-12-31) for every date."""

from __future__ import annotations

import base64
import json
from datetime import date
from typing import Any, ClassVar
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from credflow_common.auth import issue_dev_token
from credflow_common.http import ServiceInfo, create_service_app
from credflow_common.inputs import MAX_JSON_DEPTH, Patch, parse_json
from credflow_common.media import MediaKind, download_name
from credflow_common.problems import ProblemError
from credflow_contracts.dates import CalendarDate, add_months, check_calendar_date
from credflow_contracts.ids import uuid7
from credflow_projection.cursors import ID, MOMENT, TEXT, decode_cursor, encode_cursor


def paths(problem: ProblemError) -> list[str]:
    return [error.path for error in problem.errors]


def refused(raw: bytes | str) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        parse_json(raw)
    assert caught.value.status == 422
    return caught.value


def test_json_that_postgresql_could_not_store_is_refused_naming_the_field() -> None:
    assert paths(refused('{"name": "a\\u0000b"}')) == ["body.name"]
    assert paths(refused('{"users": [{"email": "x", "name": "\\ud800"}]}')) == ["body.users.0.name"]
    assert paths(refused('{"a\\u0000": 1}')) == ["body.a\x00"]
    assert parse_json('{"name": "Zoë 🦺"}') == {"name": "Zoë 🦺"}


def test_json_bombs_and_bytes_that_are_not_utf8_are_refused() -> None:
    assert refused("[" * 100_000).errors[0].code == "too_deep"
    assert refused("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)).errors[0].code == (
        "too_deep"
    )
    assert parse_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is not None
    assert refused(b"2\xff").errors[0].code == "not_utf8"
    assert refused(b"{").errors[0].code == "json_invalid"


class Changes(Patch):
    clearable: ClassVar[frozenset[str]] = frozenset({"manager_id"})

    name: str | None = None
    manager_id: UUID | None = None


def test_a_patch_refuses_null_for_fields_that_cannot_be_empty() -> None:
    with pytest.raises(ValidationError) as caught:
        Changes.model_validate({"name": None})
    assert [error["loc"] for error in caught.value.errors()] == [("name",)]
    assert Changes.model_validate({"manager_id": None}).model_fields_set == {"manager_id"}
    assert Changes.model_validate({}).model_fields_set == set()
    with pytest.raises(ValidationError):
        Changes.model_validate({"unknown": 1})


def test_dates_outside_the_calendar_are_refused() -> None:
    assert check_calendar_date(date(1900, 1, 1)) == date(1900, 1, 1)
    assert check_calendar_date(date(2199, 12, 31)) == date(2199, 12, 31)
    for day in (date(1899, 12, 31), date(2200, 1, 1), date(9999, 12, 31), date(1, 1, 1)):
        with pytest.raises(ValueError, match="between 1900-01-01 and 2199-12-31"):
            check_calendar_date(day)
    assert add_months(date(2100, 1, 31), 1) == date(2100, 2, 28)
    with pytest.raises(ValueError, match="12 months after 2199-06-01"):
        add_months(date(2199, 6, 1), 12)


def test_a_forged_cursor_never_reaches_sql() -> None:
    real = encode_cursor(["ann", "licence", uuid7()])
    assert decode_cursor(real, TEXT, TEXT, ID)[0] == "ann"
    forged = [
        ["a", "b", "x"],  # not an id
        ["a", "b"],  # too short
        ["a\x00", "b", str(uuid7())],  # NUL
        ["\ud800", "b", str(uuid7())],  # lone surrogate
        [1, "b", str(uuid7())],  # not text
        {"a": 1},
    ]
    for values in forged:
        cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode()
        with pytest.raises(ValueError, match="malformed cursor"):
            decode_cursor(cursor, TEXT, TEXT, ID)
    for cursor in ("%%%", base64.urlsafe_b64encode(b"[" * 100_000).decode(), ""):
        with pytest.raises(ValueError, match="malformed cursor"):
            decode_cursor(cursor, TEXT, TEXT, ID)
    naive = base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00", str(uuid7())]).encode())
    with pytest.raises(ValueError, match="malformed cursor"):
        decode_cursor(naive.decode(), MOMENT, ID)


ORG, USER = uuid7(), uuid7()


def guarded_client() -> TestClient:
    app = create_service_app(ServiceInfo(name="test"))

    @app.get("/search")
    async def search(q: str = "") -> dict[str, str]:
        return {"q": q}

    @app.post("/things")
    async def add(body: dict[str, Any]) -> dict[str, Any]:
        return body

    @app.post("/dated")
    async def dated(day: CalendarDate) -> dict[str, str]:
        return {"day": day.isoformat()}

    return TestClient(app, raise_server_exceptions=False)


def test_every_service_refuses_unstorable_query_and_body_text_before_its_handler() -> None:
    client = guarded_client()
    token = issue_dev_token(USER, ORG, ["admin"])
    auth = {"Authorization": f"Bearer {token}"}
    response = client.get("/search?q=%00", headers=auth)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["path"] == "query.q"
    assert client.get("/search?q=%25_", headers=auth).json() == {"q": "%_"}

    headers = auth | {"content-type": "application/json"}
    response = client.post("/things", content=b'{"name": "a\\u0000b"}', headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "body.name"
    assert client.post("/things", content=b"[" * 100_000, headers=headers).status_code == 422
    assert client.post("/things", content=b"2\xff", headers=headers).status_code == 422
    assert client.post("/things", json={"name": "ok"}, headers=auth).json() == {"name": "ok"}

    response = client.post("/dated?day=9999-12-31", headers=auth)
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "query.day"
    assert client.post("/dated?day=2199-12-31", headers=auth).status_code == 200


def test_a_time_zone_that_is_not_even_a_file_name_is_a_field_error() -> None:
    from credflow_directory.inputs import UserPatch

    for zone in ("T̺̺o" * 120, "../../etc/passwd", "Nowhere/Atlantis"):
        with pytest.raises(ValidationError) as caught:
            UserPatch.model_validate({"time_zone": zone})
        assert [error["loc"] for error in caught.value.errors()] == [("time_zone",)]
    assert UserPatch.model_validate({"time_zone": "Australia/Sydney"}).time_zone


def test_names_and_titles_are_one_line() -> None:
    from credflow_directory.inputs import CompanyInput, UserPatch
    from credflow_submission.inputs import VersionInput

    for bad in ("Ann\nBcc: x@evil.test", "Ann\r", "tab\there", "bell\x07"):
        with pytest.raises(ValidationError, match="one line"):
            UserPatch.model_validate({"name": bad})
        with pytest.raises(ValidationError, match="one line"):
            CompanyInput.model_validate({"name": bad})
        with pytest.raises(ValidationError, match="one line"):
            VersionInput.model_validate({"issued_on": "2026-01-01", "title": bad})
    assert CompanyInput.model_validate({"name": "Zoë & Sons — Électricité"}).name


def test_a_mail_header_is_kept_on_one_line() -> None:
    from credflow_common.mail import one_line

    assert one_line("Review needed:\r\nBcc: x@evil.test\x07  now") == (
        "Review needed: Bcc: x@evil.test now"
    )


@pytest.mark.parametrize("control", ["\u202e", "\u202d", "\u2066", "\u2069", "\u200f", "\u061c"])
def test_a_name_with_a_bidirectional_control_is_refused_naming_the_field(control: str) -> None:
    from credflow_directory.inputs import UserInput

    with pytest.raises(ValidationError) as caught:
        UserInput.model_validate({"email": "r@example.test", "name": f"Rtl {control}gnp.exe"})
    [error] = caught.value.errors()
    assert error["loc"] == ("name",)
    assert "bidirectional" in error["msg"]
    assert UserInput.model_validate({"email": "r@example.test", "name": "Zoë عائشة"}).name


@pytest.mark.parametrize(
    ("uploaded", "kind", "saved"),
    [
        ("statement.html", "png", "statement.png"),
        ("setup.exe", "png", "setup.png"),
        ("licence.PNG", "png", "licence.PNG"),
        ("scan.jpeg", "jpeg", "scan.jpeg"),
        ("scan.jpg", "jpeg", "scan.jpg"),
        ("certificate", "pdf", "certificate.pdf"),
        ("report.pdf.exe", "pdf", "report.pdf.pdf"),
        ("Person\u202egnp.exe", "png", "Persongnp.png"),
        ("../../etc/passwd", "pdf", "_.._etc_passwd.pdf"),
        ("", "png", "file.png"),
    ],
)
def test_a_file_downloads_under_a_name_whose_extension_is_its_kind(
    uploaded: str, kind: MediaKind, saved: str
) -> None:
    assert download_name(uploaded, kind) == saved
