"""Journey 2: an admin-managed organisation. A worker cannot add credentials but can view them
and download their file; a reviewer adds a certification with an issue date and a number for
the worker; a file is deleted while the certification stays."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.e2e.journeys.conftest import PNG, Journeys
from tests.polling import eventually


async def test_admin_managed_organisation(journeys: Journeys) -> None:
    org = await journeys.organisation("Managed Journey", credential_management="admin_managed")
    admin = org.admin
    today = datetime.now(UTC).date()
    forklift = await org.post(
        "directory", "/credential-types", admin, name="Forklift certificate",
        validation_required=False, default_validity_months=36,
    )  # fmt: skip
    riley = await org.person("Riley Reviewer", ["reviewer"])
    wes = await org.person("Wes Worker", ["worker"])
    fields = {"credential_type_id": forklift["credential_type_id"], "issued_on": str(today)}

    async def worker_refused() -> bool:
        response = await org.client.post(
            org.url("submission", "/credentials"), json=fields, headers=wes.headers
        )
        assert response.status_code in (403, 404, 422), response.text
        return response.status_code == 403 and "manages credentials" in response.json()["detail"]

    await eventually(worker_refused, timeout_s=30)

    added = await org.accepted(
        "POST", "submission", "/credentials", riley,
        data={"data": json.dumps({**fields, "holder_id": wes.user_id,
                                  "certification": {"number": "FL-20931"}})},
        files=[("files", ("forklift.png", PNG, "image/png"))],
    )  # fmt: skip
    credential_id = added["credential_id"]
    [media] = added["media"]

    # The worker sees it in the views (`submitted` once the review service has accepted it:
    # the type needs no validation) and downloads the file through a signed URL.
    mine = await org.view("/credentials", wes, added["position"])
    assert [row["credential_id"] for row in mine["items"]] == [credential_id]
    mine = await org.view_when(
        "/credentials", wes, lambda page: page["items"][0]["status"] != "pending"
    )
    assert mine["items"][0]["status"] == "submitted"
    detail = await org.view(f"/credentials/{credential_id}", wes)
    assert detail["versions"][0]["certification"] == {
        "number": "FL-20931",
        "verification_url": None,
    }
    assert detail["versions"][0]["issued_on"] == str(today)
    link = await org.get(
        "submission", f"/credentials/{credential_id}/media/{media['media_id']}/url", wes
    )
    downloaded = await org.client.get(link["url"])
    assert downloaded.status_code == 200
    assert downloaded.content == PNG

    # The worker may not remove the file either; the reviewer may, and the credential stays.
    path = f"/credentials/{credential_id}/media/{media['media_id']}"
    assert (
        await org.client.delete(org.url("submission", path), headers=wes.headers)
    ).status_code == 403
    removed = await org.call("DELETE", "submission", path, riley)
    detail = await org.view(f"/credentials/{credential_id}", wes, removed["position"])
    assert detail["status"] == "submitted"
    assert detail["versions"][0]["media"] == []
    assert detail["versions"][0]["certification"]["number"] == "FL-20931"
    gone = await org.client.get(
        org.url("submission", f"/credentials/{credential_id}/media/{media['media_id']}/url"),
        headers=wes.headers,
    )
    assert gone.status_code == 404
