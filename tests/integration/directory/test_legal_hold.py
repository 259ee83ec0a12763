"""Legal hold through the directory's API: admins place it with a reason and release it, each
change published with who made it; nobody else may, and a second placing is a conflict."""

from __future__ import annotations

from credflow_contracts.events.directory import UserUpdated
from credflow_contracts.ids import uuid7
from tests.infrastructure import Infrastructure
from tests.integration.directory.conftest import DirectoryApi, token
from tests.integration.kafka_support import read_topic


async def test_admins_place_and_release_a_legal_hold_and_each_change_is_published(
    directory: DirectoryApi, infra: Infrastructure
) -> None:
    org = await directory.create_org("Held Co")
    pat = await directory.create_user(org, "pat@held.test", roles=["worker"])
    hold = org.url(f"/users/{pat['user_id']}/legal-hold")

    worker = token(org.id, pat["user_id"], "worker")
    refused = await directory.client.post(hold, json={"reason": "mine"}, headers=worker)
    assert refused.status_code == 403

    placed = await directory.client.post(hold, json={"reason": "Claim 2026-114"},
                                         headers=org.admin)  # fmt: skip
    assert placed.status_code == 200, placed.text
    assert placed.json()["legal_hold"]["reason"] == "Claim 2026-114"
    assert placed.json()["legal_hold"]["placed_by"] == str(org.admin_id)
    again = await directory.client.post(hold, json={"reason": "twice"}, headers=org.admin)
    assert again.status_code == 409
    assert "Claim 2026-114" in again.json()["detail"]
    empty = await directory.client.post(hold, json={"reason": ""}, headers=org.admin)
    assert empty.status_code == 422
    assert [e["path"] for e in empty.json()["errors"]] == ["body.reason"]
    unknown = await directory.client.post(org.url(f"/users/{uuid7()}/legal-hold"),
                                          json={"reason": "x"}, headers=org.admin)  # fmt: skip
    assert unknown.status_code == 404

    released = await directory.client.delete(hold, headers=org.admin)
    assert released.status_code == 200, released.text
    assert released.json()["legal_hold"] is None
    assert (await directory.client.delete(hold, headers=org.admin)).status_code == 409

    landed = await read_topic(infra.kafka_bootstrap_servers, directory.topic, 4)
    changes = [
        r.envelope.event for r in landed
        if isinstance(r.envelope.event, UserUpdated)
        and str(r.envelope.event.user.user_id) == pat["user_id"]
    ]  # fmt: skip
    assert [(e.changed, e.changed_by) for e in changes] == [
        (["legal_hold"], org.admin_id), (["legal_hold"], org.admin_id)
    ]  # fmt: skip
