"""The console's pure parts: dates in a person's format, the credential form, API refusals by
field, what a person may manage, safe redirects, and the tokens it mints."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from uuid import uuid4

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm
from starlette.datastructures import FormData
from starlette.requests import Request

from credflow_common.settings import InfraSettings
from credflow_console import dates
from credflow_console.access import may_manage
from credflow_console.api import ApiError
from credflow_console.app import create_app
from credflow_console.charts import BAR_AREA, ROW_HEIGHT, Bar, bar_chart, stacked_chart
from credflow_console.forms import CredentialForm, from_version
from credflow_console.keys import Person, TokenMinter, load_or_create_key
from credflow_console.settings import ConsoleSettings
from credflow_console.web import redirect, safe_next


def person(*roles: str, permissions: tuple[str, ...] = ()) -> Person:
    return Person(uuid4(), uuid4(), "Pat", "pat@example.test", roles, permissions)


@pytest.mark.parametrize(
    ("typed", "date_format", "expected"),
    [
        ("31/12/2026", "DD/MM/YYYY", date(2026, 12, 31)),
        ("12/31/2026", "MM/DD/YYYY", date(2026, 12, 31)),
        ("2026-12-31", "DD/MM/YYYY", date(2026, 12, 31)),  # ISO is always understood
        ("  ", "DD/MM/YYYY", None),
    ],
)
def test_dates_are_read_in_the_persons_format(
    typed: str, date_format: str, expected: date | None
) -> None:
    assert dates.parse(typed, date_format) == expected


@pytest.mark.parametrize("typed", ["31/02/2026", "12/31/2026", "tomorrow", "01/01/2200"])
def test_what_is_not_a_date_in_the_format_is_refused_with_how_to_write_it(typed: str) -> None:
    with pytest.raises(ValueError, match=r"DD/MM/YYYY|dates run from 01/01/1900"):
        dates.parse(typed, "DD/MM/YYYY")


def test_dates_are_shown_in_the_persons_format() -> None:
    assert dates.show("2026-03-01", "DD/MM/YYYY") == "01/03/2026"
    assert dates.show("2026-03-01", "MM/DD/YYYY") == "03/01/2026"
    assert dates.show(None, "DD/MM/YYYY") == ""


def test_the_credential_form_becomes_the_apis_json() -> None:
    form = CredentialForm.read(FormData([
        ("credential_type_id", "t-1"), ("issued_on", "01/11/2026"), ("expires_on", ""),
        ("certification_number", " DL-1 "), ("issuer_name", "Roads"), ("title", ""),
    ]))  # fmt: skip
    assert form.data("DD/MM/YYYY", with_type=True) == {
        "credential_type_id": "t-1", "issued_on": "2026-11-01",
        "certification": {"number": "DL-1"}, "issuer": {"name": "Roads"},
    }  # fmt: skip
    assert form.errors == {}


def test_a_form_without_an_issue_date_is_not_sent() -> None:
    form = CredentialForm.read(FormData([("expires_on", "99/99/2026")]))
    form.data("DD/MM/YYYY", with_type=False)
    assert set(form.errors) == {"issued_on", "expires_on"}


def test_the_apis_refusals_land_beside_their_fields() -> None:
    refusal = ApiError(422, {"detail": "2 field(s) failed", "errors": [
        {"path": "body.expires_on", "message": "before the issue date"},
        {"path": "body.certification.number", "message": "too long"},
    ]})  # fmt: skip
    form = CredentialForm()
    form.refused(refusal)
    assert form.errors == {"expires_on": "before the issue date",
                           "certification_number": "too long"}  # fmt: skip
    whole = CredentialForm()
    whole.refused(ApiError(403, {"detail": "ask an admin"}))
    assert whole.errors == {"form": "ask an admin"}


def test_a_version_fills_the_form_in_the_persons_format() -> None:
    version = {"title": "T", "issued_on": "2026-01-02", "expires_on": None,
               "certification": {"number": "N"}, "issuer": None, "notes": None}  # fmt: skip
    assert from_version(version, "DD/MM/YYYY") == {
        "title": "T", "issued_on": "02/01/2026", "expires_on": "",
        "certification_number": "N", "issuer_name": "", "notes": "",
    }  # fmt: skip


def test_who_may_manage_whose_credentials() -> None:
    worker, manager, reviewer = person("worker"), person("manager"), person("reviewer")
    mine = {"user_id": str(worker.user_id), "manager_id": str(manager.user_id)}
    self_service, managed = {"credential_management": "self_service"}, {
        "credential_management": "admin_managed"}  # fmt: skip
    assert may_manage(worker, mine, self_service)
    assert not may_manage(worker, mine, managed)
    assert may_manage(manager, mine, managed)
    assert may_manage(reviewer, mine, managed)
    assert not may_manage(person("worker"), mine, self_service)  # someone else's
    assert not may_manage(person("manager"), mine, self_service)  # not their managee


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/credentials?x=1", "/credentials?x=1"), ("//evil.test/x", "/"),
     ("https://evil.test", "/"), ("/\\evil.test", "/"), (None, "/"),
     ("/\t/evil.example", "/"), ("/\n/evil.example", "/"), ("/\r\n/evil.example", "/"),
     (" //evil.example", "/"), ("/%09/evil.example", "/%09/evil.example")],
)  # fmt: skip
def test_only_this_sites_paths_are_followed_after_sign_in(
    target: str | None, expected: str
) -> None:
    assert safe_next(target) == expected


@pytest.mark.parametrize("htmx", [True, False], ids=["HX-Redirect", "Location"])
def test_a_redirect_goes_only_to_a_quoted_path_of_this_site_with_htmx_or_without(
    htmx: bool,
) -> None:
    headers = [(b"hx-request", b"true")] if htmx else []
    request = Request({"type": "http", "headers": headers})
    header = "HX-Redirect" if htmx else "location"

    def target(url: str) -> str:
        return redirect(request, url).headers[header]

    assert target("/\t/evil.example") == "/"
    assert target("//evil.example") == "/"
    assert target("/reviews?min_position=0%3A12") == "/reviews?min_position=0%3A12"
    assert target("/admin/users?q=Zoë Ng") == "/admin/users?q=Zo%C3%AB%20Ng"


def test_tokens_verify_with_the_published_key_and_carry_the_directorys_roles(
    tmp_path: Path,
) -> None:
    key = load_or_create_key(tmp_path / "key.pem")
    assert (tmp_path / "key.pem").stat().st_mode & 0o077 == 0  # readable by its owner only
    assert isinstance(load_or_create_key(tmp_path / "key.pem"), rsa.RSAPrivateKey)
    minter = TokenMinter(key, "http://console.test", 600)
    pat = person("manager", permissions=("users:manage",))
    token, _ = minter.mint(pat)
    public = RSAAlgorithm.from_jwk(minter.jwks()["keys"][0])
    claims = jwt.decode(token, public, algorithms=["RS256"])  # type: ignore[arg-type]
    assert claims["sub"] == str(pat.user_id)
    assert claims["org"] == str(pat.organisation_id)
    assert claims["roles"] == ["manager"]
    assert claims["permissions"] == ["users:manage"]
    assert claims["exp"] - claims["iat"] == 600
    assert jwt.get_unverified_header(token)["kid"] == minter.kid
    other = TokenMinter(load_or_create_key(tmp_path / "other.pem"), "http://console.test", 600)
    assert other.kid != minter.kid


def test_bars_scale_against_the_largest_and_stack_by_row() -> None:
    placed, height = bar_chart([Bar("a", 10, "/a", "ok"), Bar("b", 5, "/b", "bad"),
                                Bar("c", 0, "/c", "warn")])  # fmt: skip
    assert [b.width for b in placed] == [BAR_AREA, BAR_AREA / 2, 0]
    assert [b.y for b in placed] == [0, ROW_HEIGHT, 2 * ROW_HEIGHT]
    assert height == 3 * ROW_HEIGHT
    rows, _ = stacked_chart([("North", [(3, "ok", "/n1"), (1, "bad", "/n2")]),
                             ("South", [(0, "ok", "/s1"), (2, "bad", "/s2")])])  # fmt: skip
    north, south = rows
    assert north.total == 4
    assert [s.width for s in north.segments] == [BAR_AREA * 3 / 4, BAR_AREA / 4]
    assert north.segments[1].x == BAR_AREA * 3 / 4
    assert [s.width for s in south.segments] == [0, BAR_AREA / 2]
    assert bar_chart([]) == ([], 0)


def test_in_production_the_console_will_not_start_on_the_development_session_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDFLOW_ENVIRONMENT", "production")
    with pytest.raises(RuntimeError, match="CREDFLOW_CONSOLE_SESSION_SECRET"):
        create_app(InfraSettings(), ConsoleSettings(signing_key_file=tmp_path / "key.pem"))
    own = ConsoleSettings(signing_key_file=tmp_path / "key.pem", session_secret="x" * 64)
    assert create_app(InfraSettings(), own).title


def test_by_default_the_console_runs_in_production_without_sign_in_as(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment that forgets CREDFLOW_ENVIRONMENT is production: no "sign in as" (anyone
    as anyone), and not on the public development session secret."""
    monkeypatch.delenv("CREDFLOW_ENVIRONMENT", raising=False)
    with pytest.raises(RuntimeError, match="CREDFLOW_CONSOLE_SESSION_SECRET"):
        create_app(InfraSettings(), ConsoleSettings(signing_key_file=tmp_path / "key.pem"))
    settings = ConsoleSettings(signing_key_file=tmp_path / "key.pem", session_secret="x" * 64)
    client = TestClient(create_app(InfraSettings(), settings))
    assert client.get("/sign-in/as").status_code == 404
    assert client.post("/sign-in/as", data={"user_id": str(uuid4())}).status_code in (403, 404)
    page = client.get("/sign-in")
    assert page.status_code == 200
    assert "/sign-in/as" not in page.text
    assert "secure" in page.headers["set-cookie"].lower(), "production cookies need HTTPS"
