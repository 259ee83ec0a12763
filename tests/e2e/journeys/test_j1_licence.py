"""Journey 1: an admin defines a credential type and a requirement; a worker submits a driver's
licence with a photo; their manager validates it; the worker becomes compliant in the company
view; the licence is renewed with a new version; the history shows both versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from credflow_contracts.events.credentials import (
    CredentialSubmitted,
    CredentialValidated,
    ReviewClaimed,
    ReviewRequested,
    VersionAdded,
)
from tests.e2e.journeys.conftest import PNG, Journeys, Person, Tenant, with_file
from tests.polling import eventually


async def queue_item(org: Tenant, reviewer: Person, credential_id: str, version: int) -> Any:
    found: list[Any] = []

    async def listed() -> bool:
        items = (await org.get("review", "/reviews", reviewer))["items"]
        found[:] = [
            i
            for i in items
            if (i["credential_id"], i["version_number"]) == (credential_id, version)
        ]
        return bool(found)

    await eventually(listed, timeout_s=30)
    return found[0]


async def test_licence_submitted_validated_compliant_and_renewed(journeys: Journeys) -> None:
    org = await journeys.organisation("Licence Journey")
    admin = org.admin
    today = datetime.now(UTC).date()
    licence = await org.post(
        "directory", "/credential-types", admin, name="Driver's licence",
        validation_required=True, media_required=True, default_validity_months=60,
    )  # fmt: skip
    await org.post(
        "directory", "/requirements", admin,
        credential_type_id=licence["credential_type_id"], scope="all_workers",
    )  # fmt: skip
    acme = await org.post("directory", "/companies", admin, name="Acme Haulage")
    mia = await org.person("Mia Manager", ["manager"], company_id=acme["company_id"])
    wes = await org.person(
        "Wes Worker", ["worker"], company_id=acme["company_id"], manager_id=mia.user_id
    )

    # Without the photo the type asks for, the licence is refused with the field at fault
    # (once the submission service has heard of the new type).
    fields = {"credential_type_id": licence["credential_type_id"], "issued_on": str(today)}

    async def refused_for_want_of_a_file() -> bool:
        refused = await org.client.post(
            org.url("submission", "/credentials"), json=fields, headers=wes.headers
        )
        assert refused.status_code in (404, 422), refused.text
        return [e["path"] for e in refused.json().get("errors", [])] == ["body.files"]

    await eventually(refused_for_want_of_a_file, timeout_s=30)
    submitted = await org.accepted(
        "POST", "submission", "/credentials", wes, **with_file(fields, "licence-front.png", PNG)
    )
    credential_id = submitted["credential_id"]
    profile = await org.view(f"/workers/{wes.user_id}", wes, submitted["position"])
    assert profile["compliant"] is False, "a licence waiting for review does not count yet"
    assert [c["status"] for c in profile["credentials"]] == ["pending"]

    item = await queue_item(org, mia, credential_id, 1)
    await org.post("review", f"/reviews/{item['review_id']}/claim", mia, expect=200)
    validated = await org.post(
        "review", f"/reviews/{item['review_id']}/validate", mia, expect=200,
        comment="Photo matches the registry.",
    )  # fmt: skip

    profile = await org.view(f"/workers/{wes.user_id}", admin, validated["position"])
    assert profile["compliant"] is True
    [row] = profile["credentials"]
    assert row["status"] == "verified"
    assert row["expires_on"] == str(today.replace(year=today.year + 5)), "default validity"
    companies = (await org.view("/companies", admin))["items"]
    assert [(c["name"], c["workers"], c["compliant"]) for c in companies] == [
        ("Acme Haulage", 1, 1)
    ]

    renewal = {"issued_on": str(today + timedelta(days=1))}
    renewed = await org.call(
        "POST", "submission", f"/credentials/{credential_id}/versions", wes, 201,
        **with_file(renewal, "licence-renewed.png", PNG),
    )  # fmt: skip
    item = await queue_item(org, mia, credential_id, 2)
    second = await org.post("review", f"/reviews/{item['review_id']}/validate", mia, expect=200)
    detail = await org.view(f"/credentials/{credential_id}", wes, second["position"])
    assert detail["status"] == "verified"
    newer, older = detail["versions"]
    assert (newer["version_number"], newer["review"]) == (2, "verified")
    assert (older["version_number"], older["review"]) == (1, "verified")
    assert [m["file_name"] for m in newer["media"]] == ["licence-renewed.png"]
    assert [m["file_name"] for m in older["media"]] == ["licence-front.png"]
    assert older["review_comment"] == "Photo matches the registry."
    assert renewed["version"] == 2

    # An outside subscriber saw the whole story of this credential, in order.
    async def told() -> bool:
        return len(journeys.subscriber.of(org.id, CredentialValidated)) == 2

    await eventually(told, timeout_s=30)
    story = [
        type(e.event).__name__
        for e in journeys.subscriber.of(org.id)
        if str(getattr(e.event, "credential_id", "")) == credential_id
    ]
    for expected in (CredentialSubmitted, ReviewRequested, ReviewClaimed, CredentialValidated,
                     VersionAdded):  # fmt: skip
        assert expected.__name__ in story, story
    assert story.index("VersionAdded") > story.index("CredentialValidated")
