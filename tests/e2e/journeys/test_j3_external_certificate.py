"""Journey 3: an external certificate. A learner uploads a PDF with its name, delivery date and
an optional expiry; it is routed to their manager (and to the group admin for a learner without
a manager); the reviewer corrects the dates, associates an internal equivalent and rejects with
a comment; the learner is emailed; a new version is validated and counts as the equivalent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.e2e.journeys.conftest import PDF, Journeys, with_file
from tests.e2e.journeys.test_j1_licence import queue_item


async def test_external_certificate_routed_corrected_rejected_and_validated(
    journeys: Journeys,
) -> None:
    org = await journeys.organisation("Learning Journey")
    admin = org.admin
    today = datetime.now(UTC).date()
    external = await org.post(
        "directory", "/credential-types", admin, name="External certificate",
        expires=False, validation_required=True, media_required=True,
    )  # fmt: skip
    heights = await org.post(
        "directory", "/credential-types", admin, name="Working at heights",
        validation_required=True, default_validity_months=24,
    )  # fmt: skip
    await org.post(
        "directory", "/requirements", admin,
        credential_type_id=heights["credential_type_id"], scope="all_workers",
    )  # fmt: skip
    crew = await org.post("directory", "/groups", admin, name="Site crew")
    gail = await org.person("Gail Groupadmin", ["manager"])
    await org.call(
        "PATCH", "directory", f"/groups/{crew['group_id']}", admin,
        json={"admin_ids": [gail.user_id]},
    )  # fmt: skip
    mia = await org.person("Mia Manager", ["manager"])
    lee = await org.person(
        "Lee Learner", ["worker"], manager_id=mia.user_id, group_ids=[crew["group_id"]]
    )
    nia = await org.person("Nia Newstarter", ["worker"], group_ids=[crew["group_id"]])

    # Lee's certificate carries an expiry date; Nia's does not (the type does not expire).
    delivered = today - timedelta(days=10)
    fields = {
        "credential_type_id": external["credential_type_id"],
        "title": "Working at heights (TAFE)",
        "issued_on": str(delivered),
        "expires_on": str(delivered + timedelta(days=730)),
    }
    lees = await org.accepted(
        "POST", "submission", "/credentials", lee, **with_file(fields, "heights.pdf", PDF)
    )
    nias = await org.accepted(
        "POST", "submission", "/credentials", nia,
        **with_file({**fields, "title": "Confined spaces", "expires_on": None}, "spaces.pdf", PDF),
    )  # fmt: skip

    # Routing: Lee's to Lee's manager, Nia's (no manager) to the group's admin; nobody else.
    lee_item = await queue_item(org, mia, lees["credential_id"], 1)
    await queue_item(org, gail, nias["credential_id"], 1)
    assert [i["credential_id"] for i in (await org.get("review", "/reviews", mia))["items"]] == [
        lees["credential_id"]
    ]
    assert [i["credential_id"] for i in (await org.get("review", "/reviews", gail))["items"]] == [
        nias["credential_id"]
    ]
    nia_row = await org.view(f"/credentials/{nias['credential_id']}", nia, nias["position"])
    assert (nia_row["title"], nia_row["expires_on"]) == ("Confined spaces", None)

    # Mia corrects the dates, associates the internal equivalent and rejects with a comment.
    review = f"/reviews/{lee_item['review_id']}"
    await org.post("review", f"{review}/claim", mia, expect=200)
    corrected = {"issued_on": str(delivered - timedelta(days=1)),
                 "expires_on": str(delivered + timedelta(days=729))}  # fmt: skip
    rejected = await org.post(
        "review", f"{review}/reject", mia, expect=200,
        comment="The second page is missing: upload the whole certificate.",
        edits={"changed": ["issued_on", "expires_on"], **corrected},
        internal_equivalent_id=heights["credential_type_id"],
    )  # fmt: skip
    assert await org.mail_subjects(lee, 1) == ["Your External certificate was not accepted"]
    [notice] = await org.mails_to(lee)
    assert "The second page is missing" in await org.mail_text(notice)

    detail = await org.view(f"/credentials/{lees['credential_id']}", lee, rejected["position"])
    assert detail["status"] == "not_accepted"
    [v1] = detail["versions"]
    assert (v1["title"], v1["issued_on"], v1["expires_on"]) == (
        "Working at heights (TAFE)", corrected["issued_on"], corrected["expires_on"]
    )  # fmt: skip
    assert v1["review_comment"] == "The second page is missing: upload the whole certificate."
    assert detail["internal_equivalent_id"] == heights["credential_type_id"]
    profile = await org.view(f"/workers/{lee.user_id}", lee)
    assert profile["compliant"] is False

    # Lee uploads the whole certificate as a new version; Mia validates it. It counts as the
    # internal "Working at heights" the organisation requires.
    added = await org.call(
        "POST", "submission", f"/credentials/{lees['credential_id']}/versions", lee, 201,
        **with_file({k: v for k, v in {**fields, **corrected}.items()
                    if k != "credential_type_id"}, "heights-complete.pdf", PDF),
    )  # fmt: skip
    second = await queue_item(org, mia, lees["credential_id"], 2)
    validated = await org.post(
        "review", f"/reviews/{second['review_id']}/validate", mia, expect=200
    )
    assert await org.mail_subjects(lee, 2) == [
        "Your External certificate was not accepted",
        "Your External certificate was verified",
    ]
    detail = await org.view(f"/credentials/{lees['credential_id']}", lee, validated["position"])
    assert detail["status"] == "verified"
    assert [(v["version_number"], v["review"]) for v in detail["versions"]] == [
        (2, "verified"), (1, "not_accepted")
    ]  # fmt: skip
    assert [m["file_name"] for m in detail["versions"][0]["media"]] == ["heights-complete.pdf"]
    assert added["version"] == 2
    profile = await org.view(f"/workers/{lee.user_id}", lee)
    assert profile["compliant"] is True, profile
    found = await org.view("/credentials", admin, q="TAFE")
    assert [c["credential_id"] for c in found["items"]] == [lees["credential_id"]]
