"""Bad input, as a careless client or an attacker sends it, against the real directory and
submission services: every case is a 4xx problem naming the field, and nothing stored changes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.integration.directory.conftest import Org
from tests.integration.review.conftest import as_user
from tests.integration.submission.conftest import Stack

pytestmark = pytest.mark.integration
JSON = {"content-type": "application/json"}


def refused(response: httpx.Response, path: str, status: int = 422) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert path in [error["path"] for error in response.json().get("errors", [])], response.text


async def snapshot(stack: Stack, org: Org, *paths: str) -> list[Any]:
    client = stack.directory.client
    return [(await client.get(org.url(path), headers=org.admin)).json() for path in paths]


async def test_directory_refuses_nulls_nul_bytes_and_json_bombs_and_keeps_its_data(
    stack: Stack, unique: str
) -> None:
    org = await stack.org(f"Bad input {unique}")
    client = stack.directory.client
    kind = await stack.credential_type(org, name="Licence", default_validity_months=12)
    await stack.user(org, "percent%sign@example.com", name="Pat 100% Sure")
    await stack.user(org, "plain@example.com", name="Plain Name")
    before = await snapshot(stack, org, "", "/companies", "/users", "/credential-types")

    settings = ("time_zone", "reviewer_routing", "validation_required", "default_date_format",
                "credential_management", "review_notifications", "expiring_soon_days")  # fmt: skip
    for field in settings:
        response = await client.patch(org.url("/settings"), json={field: None}, headers=org.admin)
        refused(response, f"body.{field}")
    type_url = org.url(f"/credential-types/{kind['credential_type_id']}")
    for field in ("name", "expires", "media_required"):
        refused(
            await client.patch(type_url, json={field: None}, headers=org.admin), f"body.{field}"
        )

    nul = "a\u0000b"
    refused(await client.post(org.url("/companies"), json={"name": nul}, headers=org.admin),
            "body.name")  # fmt: skip
    user = {"email": "x@example.com", "name": nul}
    refused(await client.post(org.url("/users"), json=user, headers=org.admin), "body.name")
    sync = {"users": [{"email": "y@example.com", "name": "\ud800"}]}
    response = await client.post(org.url("/users/sync"), content=as_json(sync),
                                 headers=org.admin | JSON)  # fmt: skip
    refused(response, "body.users.0.name")
    for query in ("q=%00", "after=%00"):
        response = await client.get(org.url(f"/users?{query}"), headers=org.admin)
        refused(response, f"query.{query.split('=')[0]}")
    bomb = b"[" * 100_000
    response = await client.post(org.url("/users/sync"), content=bomb, headers=org.admin | JSON)
    refused(response, "body")
    response = await client.post(
        org.url("/users/sync"), content=b"email,name\nz@example.com,a\x00b\n",
        headers=org.admin | {"content-type": "text/csv"},
    )  # fmt: skip
    refused(response, "body")

    assert await snapshot(stack, org, "", "/companies", "/users", "/credential-types") == before

    # LIKE wildcards are literal: `%` and `_` find only names holding them.
    for text, expected in (("%", ["Pat 100% Sure"]), ("_", [])):
        found = await client.get(org.url("/users"), params={"q": text}, headers=org.admin)
        assert [u["name"] for u in found.json()["items"]] == expected


def as_json(body: Any) -> bytes:
    """JSON as a careless client sends it: escaped, so even a lone surrogate goes out."""
    return json.dumps(body).encode()


async def add(stack: Stack, org: Org, who: dict[str, str], **body: Any) -> httpx.Response:
    return await stack.submission.post(
        org.url("/credentials"), content=as_json(body), headers=who | JSON
    )


async def test_submission_refuses_bad_bodies_dates_and_versions_and_keeps_the_credential(
    stack: Stack, unique: str
) -> None:
    org = await stack.org(f"Bad credentials {unique}")
    worker = await stack.user(org, f"w{unique}@example.com")
    who = as_user(org, worker)
    kind = await stack.credential_type(org, name="Licence", default_validity_months=60)
    type_id = kind["credential_type_id"]
    created = await add(stack, org, who, credential_type_id=type_id, issued_on="2026-01-31")
    assert created.status_code == 201, created.text
    credential = created.json()
    url = org.url(f"/credentials/{credential['credential_id']}")
    before = (await stack.submission.get(url, headers=who)).json()

    for body, path in (
        ({"issued_on": "9999-12-31"}, "body.issued_on"),  # no expiry past the calendar
        ({"issued_on": "2197-06-01"}, "body.issued_on"),  # 60 months of validity: after 2199
        ({"issued_on": "1899-12-31"}, "body.issued_on"),
        ({"issued_on": "2026-01-01", "expires_on": "2200-01-01"}, "body.expires_on"),
        ({"issued_on": "2026-01-01", "notes": "a\u0000b"}, "body.notes"),
        ({"issued_on": "2026-01-01", "title": "\ud800"}, "body.title"),
    ):
        refused(await add(stack, org, who, credential_type_id=type_id, **body), path)
        response = await stack.submission.post(
            f"{url}/versions", content=as_json(body), headers=who | JSON
        )
        refused(response, path)
    for raw in (b"[" * 100_000, b"2\xff"):
        response = await stack.submission.post(
            org.url("/credentials"), content=raw, headers=who | JSON
        )
        refused(response, "body")
        response = await stack.submission.post(f"{url}/versions", content=raw, headers=who | JSON)
        refused(response, "body")
    multipart = await stack.submission.post(
        org.url("/credentials"),
        data={
            "data": as_json(
                {"credential_type_id": type_id, "issued_on": "2026-01-01", "notes": "a\u0000b"}
            ).decode()
        },
        files=[("files", ("a.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png"))],
        headers=who,
    )
    refused(multipart, "body.notes")
    huge = who | {"If-Match": "9" * 30}
    refused(await stack.submission.patch(f"{url}/latest", json={"notes": "x"}, headers=huge),
            "header.If-Match")  # fmt: skip
    refused(await stack.submission.patch(f"{url}/latest", json={"issued_on": None}, headers=who),
            "body.issued_on")  # fmt: skip
    response = await stack.submission.patch(
        f"{url}/latest", json={"issued_on": "2197-06-01", "expires_on": None}, headers=who
    )
    refused(response, "body.issued_on")

    assert (await stack.submission.get(url, headers=who)).json() == before
