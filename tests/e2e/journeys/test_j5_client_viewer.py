"""Journey 5: a client viewer browses Workers → a worker's credentials with filters, and
Companies → a company → its workers → a worker → credentials, and meets every status a worker
can show: Expired, Required, Not accepted, Verified, Submitted (and Pending)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.journeys.conftest import Journeys
from tests.e2e.journeys.test_j1_licence import queue_item


async def test_client_viewer_browses_workers_and_companies(journeys: Journeys) -> None:
    org = await journeys.organisation("Viewer Journey")
    admin = org.admin
    today = datetime.now(UTC).date()

    async def kind(name: str, **fields: Any) -> str:
        body = await org.post("directory", "/credential-types", admin, name=name, **fields)
        return str(body["credential_type_id"])

    licence = await kind("Licence", validation_required=True, default_validity_months=60)
    induction = await kind("Induction", validation_required=False, expires=False)
    forklift = await kind("Forklift", validation_required=True, default_validity_months=36)
    north = (await org.post("directory", "/companies", admin, name="North"))["company_id"]
    south = (await org.post("directory", "/companies", admin, name="South"))["company_id"]
    await org.post("directory", "/requirements", admin, credential_type_id=induction,
                   scope="all_workers")  # fmt: skip
    mia = await org.person("Mia Manager", ["manager"])
    viewer = await org.person("Vic Viewer", ["client_viewer"])
    wes = await org.person("Wes", ["worker"], company_id=north, manager_id=mia.user_id)
    ann = await org.person("Ann", ["worker"], company_id=north, manager_id=mia.user_id)
    sam = await org.person("Sam", ["worker"], company_id=south, manager_id=mia.user_id)

    async def submit(holder: Any, type_id: str, **fields: Any) -> str:
        body = {"credential_type_id": type_id, "issued_on": str(today), **fields}
        created = await org.accepted("POST", "submission", "/credentials", holder, json=body)
        return str(created["credential_id"])

    async def decide(credential_id: str, verdict: str, **body: Any) -> str:
        item = await queue_item(org, mia, credential_id, 1)
        path = f"/reviews/{item['review_id']}/{verdict}"
        return str((await org.post("review", path, mia, expect=200, **body))["position"])

    wes_licence = await submit(wes, licence)
    await decide(wes_licence, "validate")  # verified
    await submit(wes, induction)  # submitted
    ann_licence = await submit(
        ann, licence, issued_on=str(today - timedelta(days=800)),
        expires_on=str(today - timedelta(days=30)),
    )  # fmt: skip
    await decide(ann_licence, "validate")  # expired
    await submit(ann, forklift)  # pending
    sam_licence = await submit(sam, licence)
    last = await decide(sam_licence, "reject", comment="Unreadable photo.")  # not accepted
    # Sam holds no induction: required

    # Workers → worker credentials, with filters.
    workers = (await org.view("/workers", viewer, last))["items"]
    assert sorted(w["name"] for w in workers) == ["Ann", "Sam", "Wes"]
    everything = (await org.view("/credentials", viewer))["items"]
    assert {(c["holder_name"], c["credential_type_name"], c["status"]) for c in everything} == {
        ("Wes", "Licence", "verified"),
        ("Wes", "Induction", "submitted"),
        ("Ann", "Licence", "expired"),
        ("Ann", "Forklift", "pending"),
        ("Sam", "Licence", "not_accepted"),
    }
    anns = (await org.view("/credentials", viewer, worker_id=ann.user_id))["items"]
    assert {c["status"] for c in anns} == {"expired", "pending"}
    expired = (await org.view("/credentials", viewer, status="expired"))["items"]
    assert [c["holder_name"] for c in expired] == ["Ann"]
    licences = await org.view("/credentials", viewer, credential_type_id=licence, company_id=north)
    assert sorted(c["holder_name"] for c in licences["items"]) == ["Ann", "Wes"]
    found = (await org.view("/credentials", viewer, q="fork"))["items"]
    assert [c["credential_type_name"] for c in found] == ["Forklift"]

    # Companies → company → workers → worker → credentials, `required` rows included.
    companies = {c["name"]: c for c in (await org.view("/companies", viewer))["items"]}
    assert (companies["North"]["workers"], companies["North"]["compliant"]) == (2, 1)
    assert (companies["South"]["workers"], companies["South"]["compliant"]) == (1, 0)
    [sam_row] = (await org.view(f"/companies/{south}/workers", viewer))["workers"]
    assert {(r["credential_type_name"], r["status"]) for r in sam_row["credentials"]} == {
        ("Licence", "not_accepted"),
        ("Induction", "required"),
    }
    profile = await org.view(f"/workers/{sam.user_id}", viewer)
    assert profile["compliant"] is False
    detail = await org.view(f"/credentials/{sam_licence}", viewer)
    assert detail["versions"][0]["review_comment"] == "Unreadable photo."

    # Reading is all a client viewer may do.
    refused = await org.client.post(
        org.url("submission", "/credentials"),
        json={"credential_type_id": induction, "issued_on": str(today), "holder_id": sam.user_id},
        headers=viewer.headers,
    )
    assert refused.status_code == 403, refused.text
