"""Callers kept apart, tried as a careless or hostile caller would, against the six services
in-process on real PostgreSQL, Kafka, MinIO and the SMTP sink: idempotency keys belong to their
caller, ids in bodies to the caller's organisation, a deactivated person's token stops working
everywhere within seconds, client viewers change nothing, and a caller with no right to act is
refused before the state of anything is revealed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from credflow_common.settings import RuntimeSettings
from credflow_contracts.ids import uuid7
from credflow_contracts.topics import ALL_TOPICS
from credflow_importer.app import DEFINITION as IMPORTER_SERVICE
from credflow_projection.app import definition as projection_definition
from credflow_reminder.app import definition as reminder_definition
from tests.infrastructure import Infrastructure
from tests.integration.review.conftest import Services, as_user, running_services
from tests.integration.runtime_support import create_topics

pytestmark = pytest.mark.integration
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class Six:
    services: Services
    importer: httpx.AsyncClient
    reminder: httpx.AsyncClient
    projection: httpx.AsyncClient

    @property
    def clients(self) -> dict[str, httpx.AsyncClient]:
        return {
            "directory": self.services.directory.client,
            "submission": self.services.submission,
            "review": self.services.review,
            "importer": self.importer,
            "reminder": self.reminder,
            "projection": self.projection,
        }


@pytest.fixture
async def six(infra: Infrastructure, database_url: str, topic_prefix: str) -> AsyncIterator[Six]:
    await create_topics(infra.kafka_bootstrap_servers, [topic_prefix + t for t in ALL_TOPICS])
    runtime = RuntimeSettings(topic_prefix=topic_prefix)
    more = (IMPORTER_SERVICE, reminder_definition(), projection_definition())
    async with running_services(infra, database_url, runtime, *more) as (services, clients, _):
        yield Six(services, *clients)


async def test_an_idempotency_key_belongs_to_its_caller(six: Six, unique: str) -> None:
    services = six.services
    org = await services.org(f"Keys {unique}")
    kind = await services.post(org, "/credential-types", name="Licence", expires=False)
    ann = await services.post(org, "/users", email=f"ann{unique}@example.com", name="Ann")
    ben = await services.post(org, "/users", email=f"ben{unique}@example.com", name="Ben")
    body = {"credential_type_id": kind["credential_type_id"], "issued_on": "2026-01-31"}
    key = {"Idempotency-Key": "the-same-key"}
    url = org.url("/credentials")
    first = await services.submission.post(
        url,
        data={"data": httpx.Response(200, json=body).text},
        files=[("files", ("ann.png", PNG, "image/png"))],
        headers=as_user(org, ann) | key,
    )
    assert first.status_code == 201, first.text
    again = await services.submission.post(
        url,
        data={"data": httpx.Response(200, json=body).text},
        files=[("files", ("ann.png", PNG, "image/png"))],
        headers=as_user(org, ann) | key,
    )
    assert again.json() == first.json(), "the same caller gets the first result back"
    other = await services.submission.post(url, json=body, headers=as_user(org, ben) | key)
    assert other.status_code == 201, other.text
    assert other.json()["credential_id"] != first.json()["credential_id"]
    assert other.json()["media"] == [], "Ben never sees Ann's file details"


async def test_every_id_in_a_body_must_belong_to_the_callers_organisation(
    six: Six, unique: str
) -> None:
    services = six.services
    org = await services.org(f"Ours {unique}")
    other = await services.org(f"Theirs {unique}")
    theirs = {
        "type": (await services.post(other, "/credential-types", name="T", expires=False)),
        "company": await services.post(other, "/companies", name="C"),
        "group": await services.post(other, "/groups", name="G"),
        "user": await services.post(other, "/users", email=f"o{unique}@example.com", name="O"),
    }
    foreign = {
        "type": theirs["type"]["credential_type_id"],
        "company": theirs["company"]["company_id"],
        "group": theirs["group"]["group_id"],
        "user": theirs["user"]["user_id"],
    }
    ours = await services.post(org, "/credential-types", name="Ours", expires=False)
    worker = await services.post(org, "/users", email=f"w{unique}@example.com", name="W")
    client = services.directory.client

    async def refused(method: str, path: str, body: Any, field: str) -> None:
        response = await client.request(method, org.url(path), json=body, headers=org.admin)
        assert response.status_code in (404, 422), (path, response.text)
        assert field in [e["path"] for e in response.json().get("errors", [])], response.text

    await refused(
        "POST",
        "/credential-types",
        {"name": "X", "internal_equivalent_id": foreign["type"]},
        "body.internal_equivalent_id",
    )
    await refused(
        "PATCH",
        f"/credential-types/{ours['credential_type_id']}",
        {"internal_equivalent_id": foreign["type"]},
        "body.internal_equivalent_id",
    )
    await refused(
        "POST",
        "/users",
        {"email": f"x{unique}@example.com", "name": "X", "manager_id": foreign["user"]},
        "body.manager_id",
    )
    await refused(
        "PATCH",
        f"/users/{worker['user_id']}",
        {"company_id": foreign["company"]},
        "body.company_id",
    )
    await refused(
        "PATCH",
        f"/users/{worker['user_id']}",
        {"group_ids": [foreign["group"]]},
        "body.group_ids.0",
    )
    await refused(
        "POST", "/groups", {"name": "Y", "admin_ids": [foreign["user"]]}, "body.admin_ids.0"
    )
    await refused(
        "PATCH",
        "/settings",
        {"reviewer_routing": "reviewer_group", "reviewer_group_id": foreign["group"]},
        "body.reviewer_group_id",
    )
    await refused(
        "POST",
        "/requirements",
        {"credential_type_id": foreign["type"], "scope": "all_workers"},
        "body.credential_type_id",
    )
    await refused(
        "POST",
        "/requirements",
        {
            "credential_type_id": ours["credential_type_id"],
            "scope": "company",
            "company_id": foreign["company"],
        },
        "body.company_id",
    )
    await refused(
        "POST",
        "/requirements",
        {
            "credential_type_id": ours["credential_type_id"],
            "scope": "group",
            "group_id": foreign["group"],
        },
        "body.group_id",
    )
    question = {
        "question_id": str(uuid7()),
        "text": "Q?",
        "requires_credential_type_ids": [foreign["type"]],
    }
    response = await client.post(
        org.url("/assessments"), json={"name": "A", "questions": [question]}, headers=org.admin
    )
    assert response.status_code == 422, response.text

    submission = services.submission
    for body, field in (
        (
            {"credential_type_id": foreign["type"], "issued_on": "2026-01-01"},
            "body.credential_type_id",
        ),
        (
            {
                "credential_type_id": ours["credential_type_id"],
                "issued_on": "2026-01-01",
                "holder_id": foreign["user"],
            },
            "body.holder_id",
        ),
    ):
        response = await submission.post(org.url("/credentials"), json=body, headers=org.admin)
        assert response.status_code in (404, 422), response.text
        assert field in [e["path"] for e in response.json().get("errors", [])], response.text


async def test_a_deactivated_persons_token_stops_working_everywhere_within_seconds(
    six: Six, unique: str
) -> None:
    services = six.services
    org = await services.org(f"Leavers {unique}")
    leaver = await services.post(
        org,
        "/users",
        email=f"leaver{unique}@example.com",
        name="Lee",
        roles=["admin"],
        permissions=["users:manage"],
    )
    token = as_user(org, leaver)
    reads = {
        "directory": org.url("/users"),
        "submission": org.url(f"/credentials/{uuid7()}"),
        "review": org.url("/reviews"),
        "importer": org.url("/imports"),
        "reminder": org.url(f"/users/{leaver['user_id']}/notification-settings"),
        "projection": org.url("/credentials"),
    }

    async def answers() -> dict[str, int]:
        return {
            name: (await six.clients[name].get(path, headers=token)).status_code
            for name, path in reads.items()
        }

    async def reached() -> bool:  # every service knows Lee before the deactivation
        return 401 not in (await answers()).values()

    assert await reached()
    response = await services.directory.client.post(
        org.url(f"/users/{leaver['user_id']}/deactivate"), headers=org.admin
    )
    assert response.status_code == 200, response.text
    started = time.monotonic()
    while (statuses := await answers()) != dict.fromkeys(reads, 401):
        assert time.monotonic() - started < 5, f"still served after 5 s: {statuses}"
        await asyncio.sleep(0.2)
    response = await services.submission.get(reads["submission"], headers=token)
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="credflow"')
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert "deactivated" in response.json()["detail"]


async def test_a_client_viewer_is_refused_on_every_write_of_every_service(
    six: Six, unique: str
) -> None:
    services = six.services
    org = await services.org(f"Viewers {unique}")
    viewer = await services.post(
        org, "/users", email=f"viewer{unique}@example.com", name="Vi", roles=["client_viewer"]
    )
    token = as_user(org, viewer)
    writes = dict.fromkeys(six.clients, 0)
    for name, client in six.clients.items():
        schema = (await client.get("/openapi.json")).json()
        for path, operations in schema["paths"].items():
            for method in operations:
                if method.upper() in ("GET", "HEAD", "OPTIONS"):
                    continue
                url = path.replace("{org}", str(org.id))
                for parameter in ("{user}", "{user_id}"):
                    url = url.replace(parameter, viewer["user_id"])
                for parameter in [p for p in url.split("/") if p.startswith("{")]:
                    url = url.replace(parameter, str(uuid7()))
                response = await client.request(method.upper(), url, json={}, headers=token)
                writes[name] += 1
                assert response.status_code == 403, (name, method, path, response.text)
    assert all(writes[name] for name in writes if name != "projection"), writes
    assert sum(writes.values()) >= 40, "every write operation of the six services was tried"


async def test_bulk_calls_and_unclaim_refuse_a_caller_with_no_right_to_act(
    six: Six, unique: str
) -> None:
    services = six.services
    org = await services.org(f"Bulk {unique}")
    await services.settings(org, credential_management="admin_managed")
    kind = await services.post(
        org, "/credential-types", name="Ticket", expires=False, validation_required=True
    )
    manager = await services.post(
        org, "/users", email=f"m{unique}@example.com", name="M", roles=["manager"]
    )
    worker = await services.post(
        org, "/users", email=f"w{unique}@example.com", name="W", manager_id=manager["user_id"]
    )
    stranger = await services.post(org, "/users", email=f"s{unique}@example.com", name="S")
    credential = await services.submit(
        org, as_user(org, manager), kind["credential_type_id"], worker["user_id"]
    )
    item = await services.item_for(org, as_user(org, manager), credential["credential_id"])
    reviews = org.url("/reviews")

    for who in (as_user(org, stranger), as_user(org, worker)):
        response = await services.review.post(
            f"{reviews}/bulk-approve", json={"review_ids": [item["review_id"]]}, headers=who
        )
        assert response.status_code == 403, response.text
        response = await services.review.post(
            f"{reviews}/bulk-approve", json={"import_id": str(uuid7())}, headers=who
        )
        assert response.status_code == 403, response.text
        response = await services.submission.post(
            org.url("/credentials/delete"),
            json={"credential_ids": [credential["credential_id"]]},
            headers=who,
        )
        assert response.status_code == 403, response.text
    # An equivalent from another organisation is no equivalent here.
    elsewhere = await services.org(f"Elsewhere {unique}")
    theirs = await services.post(elsewhere, "/credential-types", name="Theirs", expires=False)
    for decision, body in (("validate", {}), ("reject", {"comment": "no"})):
        response = await services.review.post(
            f"{reviews}/{item['review_id']}/{decision}",
            json=body | {"internal_equivalent_id": theirs["credential_type_id"]},
            headers=as_user(org, manager),
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["path"] == "body.internal_equivalent_id"
    # Not claimed: the manager hears 409, a stranger 403 (who asks comes before the state).
    unclaim = f"{reviews}/{item['review_id']}/unclaim"
    assert (await services.review.post(unclaim, headers=as_user(org, stranger))).status_code == 403
    assert (await services.review.post(unclaim, headers=as_user(org, manager))).status_code == 409
    approved = await services.review.post(
        f"{reviews}/bulk-approve",
        json={"review_ids": [item["review_id"]]},
        headers=as_user(org, manager),
    )
    assert approved.json()["approved"] == 1


async def test_managers_see_the_same_people_in_the_directory_as_in_the_views(
    six: Six, unique: str
) -> None:
    services = six.services
    org = await services.org(f"Teams {unique}")
    company = await services.post(org, "/companies", name="North")
    mia = await services.post(
        org, "/users", email=f"mia{unique}@example.com", name="Mia", roles=["manager"]
    )
    team = await services.post(
        org,
        "/users",
        email=f"t{unique}@example.com",
        name="Tam",
        manager_id=mia["user_id"],
        company_id=company["company_id"],
    )
    outsider = await services.post(
        org, "/users", email=f"o{unique}@example.com", name="Oz", company_id=company["company_id"]
    )
    mine = as_user(org, mia)
    client = services.directory.client
    listed = (await client.get(org.url("/users"), headers=mine)).json()["items"]
    assert {u["name"] for u in listed} == {"Mia", "Tam"}
    assert (await client.get(org.url(f"/users/{team['user_id']}"), headers=mine)).status_code == (
        200
    )
    response = await client.get(org.url(f"/users/{outsider['user_id']}"), headers=mine)
    assert response.status_code == 404
    company_view = await client.get(org.url(f"/companies/{company['company_id']}"), headers=mine)
    assert {w["name"] for w in company_view.json()["workers"]} == {"Tam"}
    everyone = (await client.get(org.url("/users"), headers=org.admin)).json()["items"]
    assert {"Mia", "Tam", "Oz"} <= {u["name"] for u in everyone}
