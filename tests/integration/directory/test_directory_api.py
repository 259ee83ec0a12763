"""The directory service through HTTP with real PostgreSQL and Kafka."""

from __future__ import annotations

import csv
import io
from typing import Any
from uuid import UUID

import pytest

from credflow_contracts.catalogue import ALL_VERSIONS
from credflow_contracts.events import directory as directory_events
from credflow_contracts.ids import uuid7
from tests.infrastructure import Infrastructure
from tests.integration.directory.conftest import DirectoryApi, token
from tests.integration.kafka_support import read_topic

pytestmark = pytest.mark.integration
DIRECTORY_EVENT_TYPES = {
    cls for cls in ALL_VERSIONS if cls.__module__ == directory_events.__name__
} - {directory_events.PersonErased}  # an erasure's: test_erasure.py


async def test_every_kind_of_change_is_published_and_parses_with_the_contracts(
    directory: DirectoryApi, infra: Infrastructure
) -> None:
    api, org = directory.client, await directory.create_org("Acme Mining")
    admin = org.admin
    group = (await api.post(org.url("/groups"), json={"name": "Site crew"}, headers=admin)).json()
    await api.patch(
        org.url(f"/groups/{group['group_id']}"),
        json={"admin_ids": [str(org.admin_id)]},
        headers=admin,
    )
    await api.patch(
        org.url("/settings"),
        headers=admin,
        json={
            "expiring_soon_days": 45,
            "reviewer_routing": "reviewer_group",
            "reviewer_group_id": group["group_id"],
        },
    )
    company = (
        await api.post(org.url("/companies"), json={"name": "Drill Co"}, headers=admin)
    ).json()
    await api.patch(
        org.url(f"/companies/{company['company_id']}"), json={"name": "Drill Co Pty"}, headers=admin
    )
    worker = await directory.create_user(
        org, "wendy@acme.test", company_id=company["company_id"], manager_id=str(org.admin_id)
    )
    await api.patch(
        org.url(f"/users/{worker['user_id']}"), json={"time_zone": "Australia/Perth"}, headers=admin
    )
    await api.post(org.url(f"/users/{worker['user_id']}/deactivate"), headers=admin)
    await api.post(org.url(f"/users/{worker['user_id']}/reactivate"), headers=admin)
    licence = (
        await api.post(
            org.url("/credential-types"),
            headers=admin,
            json={"name": "Driver's licence", "default_validity_months": 60},
        )
    ).json()
    await api.patch(
        org.url(f"/credential-types/{licence['credential_type_id']}"),
        json={"media_required": True},
        headers=admin,
    )
    old = (
        await api.post(org.url("/credential-types"), json={"name": "Old ticket"}, headers=admin)
    ).json()
    await api.post(org.url(f"/credential-types/{old['credential_type_id']}/archive"), headers=admin)
    requirement = (
        await api.post(
            org.url("/requirements"),
            headers=admin,
            json={
                "credential_type_id": licence["credential_type_id"],
                "scope": "company",
                "company_id": company["company_id"],
            },
        )
    ).json()
    temporary = (
        await api.post(
            org.url("/requirements"),
            headers=admin,
            json={"credential_type_id": licence["credential_type_id"], "scope": "all_workers"},
        )
    ).json()
    await api.delete(org.url(f"/requirements/{temporary['requirement_id']}"), headers=admin)
    question = str(uuid7())
    assessment = (
        await api.post(
            org.url("/assessments"),
            headers=admin,
            json={
                "name": "Site induction",
                "questions": [
                    {
                        "question_id": question,
                        "text": "Do you drive on site?",
                        "requires_credential_type_ids": [licence["credential_type_id"]],
                    }
                ],
            },
        )
    ).json()
    answer = await api.post(
        org.url(f"/assessments/{assessment['assessment_id']}/answers"),
        json={"answers": {question: True}},
        headers=token(org.id, UUID(worker["user_id"]), "worker"),
    )
    assert answer.status_code == 200, answer.text
    assert requirement["scope"] == "company"

    landed = await read_topic(infra.kafka_bootstrap_servers, directory.topic, 20)
    assert len(landed) == 20
    seen = {type(record.envelope.event) for record in landed}
    assert seen == DIRECTORY_EVENT_TYPES
    assert {record.key for record in landed} == {str(org.id).encode()}, "keyed by organisation"
    assert all(record.envelope.tenant_id == org.id for record in landed)
    changes = [
        r.envelope.event
        for r in landed
        if isinstance(r.envelope.event, directory_events.UserUpdated)
    ]
    assert [c.changed for c in changes] == [["time_zone"], ["status"], ["status"]]
    assert changes[1].user.status == "deactivated"


async def test_another_organisations_objects_are_not_found_and_cannot_be_changed(
    directory: DirectoryApi,
) -> None:
    api = directory.client
    a, b = await directory.create_org("Alpha"), await directory.create_org("Bravo")
    b_user = await directory.create_user(b, "bob@bravo.test")
    b_company = (await api.post(b.url("/companies"), json={"name": "B Co"}, headers=b.admin)).json()
    b_type = (
        await api.post(b.url("/credential-types"), json={"name": "B ticket"}, headers=b.admin)
    ).json()
    b_group = (await api.post(b.url("/groups"), json={"name": "B crew"}, headers=b.admin)).json()

    reads = [
        b.url(),
        b.url("/users"),
        b.url(f"/users/{b_user['user_id']}"),
        b.url("/companies"),
        b.url(f"/companies/{b_company['company_id']}"),
        b.url("/credential-types"),
        b.url(f"/credential-types/{b_type['credential_type_id']}"),
        b.url("/requirements"),
        b.url("/groups"),
        b.url("/assessments"),
        # B's ids under A's own organisation: not found either
        a.url(f"/users/{b_user['user_id']}"),
        a.url(f"/companies/{b_company['company_id']}"),
        a.url(f"/credential-types/{b_type['credential_type_id']}"),
    ]
    for url in reads:
        response = await api.get(url, headers=a.admin)
        assert response.status_code == 404, (url, response.status_code)

    writes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("PATCH", b.url("/settings"), {"expiring_soon_days": 5}),
        ("POST", b.url("/users"), {"email": "intruder@alpha.test", "name": "Intruder"}),
        ("PATCH", b.url(f"/users/{b_user['user_id']}"), {"name": "Hijacked"}),
        ("POST", b.url(f"/users/{b_user['user_id']}/deactivate"), None),
        ("POST", b.url("/users/sync"), {"users": [{"email": "x@alpha.test", "name": "X"}]}),
        ("POST", b.url("/companies"), {"name": "Shell"}),
        ("PATCH", b.url(f"/companies/{b_company['company_id']}"), {"name": "Renamed"}),
        ("PATCH", b.url(f"/groups/{b_group['group_id']}"), {"name": "Renamed"}),
        ("POST", b.url("/credential-types"), {"name": "Fake"}),
        ("POST", b.url(f"/credential-types/{b_type['credential_type_id']}/archive"), None),
        (
            "POST",
            b.url("/requirements"),
            {"credential_type_id": b_type["credential_type_id"], "scope": "all_workers"},
        ),
        ("PATCH", a.url(f"/users/{b_user['user_id']}"), {"name": "Hijacked"}),
        ("POST", a.url(f"/credential-types/{b_type['credential_type_id']}/archive"), None),
    ]
    for method, url, body in writes:
        response = await api.request(method, url, json=body, headers=a.admin)
        assert response.status_code == 404, (method, url, response.status_code, response.text)

    unchanged = (await api.get(b.url(f"/users/{b_user['user_id']}"), headers=b.admin)).json()
    assert unchanged["name"] == "bob"
    assert unchanged["status"] == "active"
    settings = (await api.get(b.url(), headers=b.admin)).json()["settings"]
    assert settings["expiring_soon_days"] == 30
    types = (await api.get(b.url("/credential-types"), headers=b.admin)).json()["items"]
    assert [t["name"] for t in types] == ["B ticket"]
    users = (await api.get(b.url("/users"), headers=b.admin)).json()["items"]
    assert sorted(u["email"] for u in users) == ["admin@bravo.test", "bob@bravo.test"]


async def test_workers_cannot_change_directory_data(directory: DirectoryApi) -> None:
    api, org = directory.client, await directory.create_org("Charlie")
    worker = await directory.create_user(org, "wes@charlie.test")
    as_worker = token(org.id, UUID(worker["user_id"]), "worker")
    kind = (
        await api.post(org.url("/credential-types"), json={"name": "Ticket"}, headers=org.admin)
    ).json()
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("PATCH", org.url("/settings"), {"expiring_soon_days": 5}),
        ("POST", org.url("/users"), {"email": "new@charlie.test", "name": "New"}),
        ("PATCH", org.url(f"/users/{worker['user_id']}"), {"roles": ["admin"]}),
        ("POST", org.url(f"/users/{org.admin_id}/deactivate"), None),
        ("POST", org.url("/users/sync"), {"users": []}),
        ("POST", org.url("/companies"), {"name": "Mine"}),
        ("POST", org.url("/groups"), {"name": "Mine"}),
        ("POST", org.url("/credential-types"), {"name": "Mine"}),
        ("POST", org.url(f"/credential-types/{kind['credential_type_id']}/archive"), None),
        (
            "POST",
            org.url("/requirements"),
            {"credential_type_id": kind["credential_type_id"], "scope": "all_workers"},
        ),
        (
            "POST",
            org.url("/assessments"),
            {"name": "A", "questions": [{"question_id": str(uuid7()), "text": "Q?"}]},
        ),
    ]
    for method, url, body in attempts:
        response = await api.request(method, url, json=body, headers=as_worker)
        assert response.status_code == 403, (method, url, response.status_code, response.text)
    assert (await api.get(org.url("/users"), headers=as_worker)).status_code == 403
    own = await api.get(org.url(f"/users/{worker['user_id']}"), headers=as_worker)
    assert own.status_code == 200, "a worker reads their own profile"
    assert (await api.get(org.url("/credential-types"), headers=as_worker)).status_code == 200


async def test_duplicate_email_in_any_case_is_a_conflict(directory: DirectoryApi) -> None:
    api, org = directory.client, await directory.create_org("Delta")
    await directory.create_user(org, "Sam.Smith@Delta.test")
    response = await api.post(
        org.url("/users"), json={"email": "sam.smith@delta.TEST", "name": "Sam"}, headers=org.admin
    )
    assert response.status_code == 409
    assert response.json()["errors"] == [
        {"path": "body.email", "message": "a user with this email already exists"}
    ]
    other = await directory.create_user(org, "other@delta.test")
    renamed = await api.patch(
        org.url(f"/users/{other['user_id']}"),
        json={"email": "SAM.smith@delta.test"},
        headers=org.admin,
    )
    assert renamed.status_code == 409
    listing = (await api.get(org.url("/users"), params={"q": "smith"}, headers=org.admin)).json()
    assert [u["email"] for u in listing["items"]] == ["Sam.Smith@Delta.test"]


async def test_invalid_settings_name_the_field_and_change_nothing(directory: DirectoryApi) -> None:
    api, org = directory.client, await directory.create_org("Echo")
    bad_format = await api.patch(
        org.url("/settings"), json={"default_date_format": "DD.MM.YY"}, headers=org.admin
    )
    assert bad_format.status_code == 422
    assert [e["path"] for e in bad_format.json()["errors"]] == ["body.default_date_format"]
    bad_zone = await api.patch(
        org.url("/settings"), json={"time_zone": "Mars/Olympus"}, headers=org.admin
    )
    assert bad_zone.json()["errors"][0]["path"] == "body.time_zone"
    unknown = await api.patch(org.url("/settings"), json={"colour": "blue"}, headers=org.admin)
    assert unknown.json()["errors"][0]["path"] == "body.colour"
    no_group = await api.patch(
        org.url("/settings"), json={"reviewer_routing": "reviewer_group"}, headers=org.admin
    )
    assert no_group.status_code == 422
    assert no_group.json()["errors"][0]["path"] == "body.reviewer_group_id"
    settings = (await api.get(org.url(), headers=org.admin)).json()["settings"]
    assert settings["default_date_format"] == "DD/MM/YYYY"
    assert settings["reviewer_routing"] == "managers"


async def test_credential_type_rules(directory: DirectoryApi) -> None:
    api, org = directory.client, await directory.create_org("Foxtrot")
    first = await api.post(
        org.url("/credential-types"), json={"name": "First Aid"}, headers=org.admin
    )
    assert first.status_code == 201
    duplicate = await api.post(
        org.url("/credential-types"), json={"name": "FIRST AID"}, headers=org.admin
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["errors"][0]["path"] == "body.name"
    never = await api.post(
        org.url("/credential-types"),
        headers=org.admin,
        json={"name": "Induction", "expires": False, "default_validity_months": 12},
    )
    assert never.status_code == 422
    assert never.json()["errors"][0]["path"] == "body.default_validity_months"
    type_id = first.json()["credential_type_id"]
    await api.post(org.url(f"/credential-types/{type_id}/archive"), headers=org.admin)
    assert (
        await api.patch(
            org.url(f"/credential-types/{type_id}"), json={"credits": 2}, headers=org.admin
        )
    ).status_code == 409
    required = await api.post(
        org.url("/requirements"),
        headers=org.admin,
        json={"credential_type_id": type_id, "scope": "all_workers"},
    )
    assert required.status_code == 422
    listed = (await api.get(org.url("/credential-types"), headers=org.admin)).json()["items"]
    assert listed == []
    with_archived = await api.get(
        org.url("/credential-types"), params={"include_archived": True}, headers=org.admin
    )
    assert [t["archived"] for t in with_archived.json()["items"]] == [True]


async def test_an_idempotency_key_makes_a_retry_return_the_first_outcome(
    directory: DirectoryApi,
) -> None:
    api, org = directory.client, await directory.create_org("Golf")
    headers = {**org.admin, "Idempotency-Key": "create-gina"}
    body = {"email": "gina@golf.test", "name": "Gina"}
    first = await api.post(org.url("/users"), json=body, headers=headers)
    again = await api.post(org.url("/users"), json=body, headers=headers)
    assert first.status_code == 201
    assert again.json() == first.json()
    other = await api.post(org.url("/users"), json={**body, "name": "Not Gina"}, headers=headers)
    assert other.status_code == 422
    users = (await api.get(org.url("/users"), params={"q": "gina"}, headers=org.admin)).json()
    assert len(users["items"]) == 1


def sync_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["email", "name", "manager_email", "company", "roles"])
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


async def test_bulk_sync_of_1000_users_writes_the_990_good_rows_and_reports_the_10_bad(
    directory: DirectoryApi,
) -> None:
    api, org = directory.client, await directory.create_org("Hotel")
    await api.post(org.url("/companies"), json={"name": "Bellhops"}, headers=org.admin)
    rows = [
        {
            "email": f"guest{n}@hotel.test",
            "name": f"Guest {n}",
            "manager_email": "",
            "company": "Bellhops" if n % 2 else "",
            "roles": "worker",
        }
        for n in range(1000)
    ]
    rows[1]["manager_email"] = "guest0@hotel.test"  # a manager from the same file: fine
    bad = {
        10: ("email", {"email": "not-an-email"}),
        20: ("company", {"company": "Nonexistent Pty"}),
        30: ("roles.0", {"roles": "emperor"}),  # the first role listed
        40: ("email", {"email": "GUEST5@hotel.test"}),  # duplicates row 6 (guest5)
        50: ("manager_email", {"manager_email": "nobody@hotel.test"}),
        60: ("name", {"name": ""}),
        70: ("manager_email", {"manager_email": "guest70@hotel.test"}),  # themself
        80: ("manager_email", {"manager_email": "not-an-email"}),
        90: ("email", {"email": ""}),
        100: ("manager_email", {"manager_email": "guest10@hotel.test"}),  # manager row 11 is bad
    }
    for index, (_, change) in bad.items():
        rows[index].update(change)
    response = await api.post(
        org.url("/users/sync"),
        content=sync_csv(rows),
        headers={**org.admin, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["rows"] == 1000
    assert report["created"] == 990
    assert report["rejected"] == 10
    assert {(e["row"], e["field"]) for e in report["errors"]} == {
        (index + 2, field)
        for index, (field, _) in bad.items()  # row 1 is the header
    }
    users = []
    after = None
    while True:
        page = (
            await api.get(
                org.url("/users"),
                params={"limit": 1000, **({"after": after} if after else {})},
                headers=org.admin,
            )
        ).json()
        users += page["items"]
        if page["next"] is None:
            break
        after = page["next"]
    assert len(users) == 991, "990 synced plus the admin"
    emails = {u["email"] for u in users}
    assert "guest10@hotel.test" not in emails
    assert "guest100@hotel.test" not in emails
    guest1 = next(u for u in users if u["email"] == "guest1@hotel.test")
    guest0 = next(u for u in users if u["email"] == "guest0@hotel.test")
    assert guest1["manager_id"] == guest0["user_id"]

    # A second sync updates by email (any case) and leaves unchanged rows alone.
    second = await api.post(
        org.url("/users/sync"),
        headers=org.admin,
        json={
            "users": [
                {"email": "GUEST2@hotel.test", "name": "Guest Two"},
                {"email": "guest3@hotel.test", "name": "Guest 3"},
            ]
        },
    )
    assert second.json() | {"errors": []} == {
        "rows": 2,
        "created": 0,
        "updated": 1,
        "unchanged": 1,
        "rejected": 0,
        "errors": [],
    }


async def test_unreadable_sync_files_are_refused_whole(directory: DirectoryApi) -> None:
    api, org = directory.client, await directory.create_org("India")
    no_email = await api.post(
        org.url("/users/sync"),
        content=b"name\nAnn\n",
        headers={**org.admin, "Content-Type": "text/csv"},
    )
    assert no_email.status_code == 422
    assert "email" in no_email.json()["detail"]
    latin1 = await api.post(
        org.url("/users/sync"),
        content="email,name\nzoë@india.test,Zoë\n".encode("latin-1"),
        headers={**org.admin, "Content-Type": "text/csv"},
    )
    assert latin1.status_code == 422
    assert "UTF-8" in latin1.json()["detail"]
    users = (await api.get(org.url("/users"), headers=org.admin)).json()["items"]
    assert len(users) == 1


async def test_assessment_answers_need_every_question(directory: DirectoryApi) -> None:
    api, org = directory.client, await directory.create_org("Juliet")
    worker = await directory.create_user(org, "jo@juliet.test")
    q1, q2 = str(uuid7()), str(uuid7())
    assessment = (
        await api.post(
            org.url("/assessments"),
            headers=org.admin,
            json={
                "name": "Work at heights",
                "questions": [
                    {"question_id": q1, "text": "Ladders?"},
                    {"question_id": q2, "text": "Roofs?"},
                ],
            },
        )
    ).json()
    as_worker = token(org.id, UUID(worker["user_id"]), "worker")
    url = org.url(f"/assessments/{assessment['assessment_id']}/answers")
    partial = await api.post(url, json={"answers": {q1: True}}, headers=as_worker)
    assert partial.status_code == 422
    assert partial.json()["errors"][0]["path"] == "body.answers"
    for_someone_else = await api.post(
        url,
        json={"user_id": str(org.admin_id), "answers": {q1: True, q2: False}},
        headers=as_worker,
    )
    assert for_someone_else.status_code == 403
    ok = await api.post(url, json={"answers": {q1: True, q2: False}}, headers=as_worker)
    assert ok.status_code == 200
    stored = await api.get(
        org.url(f"/assessments/{assessment['assessment_id']}/answers/{worker['user_id']}"),
        headers=as_worker,
    )
    assert stored.json()["answers"] == {q1: True, q2: False}
