"""Review through HTTP and Kafka: routing in every mode, decisions, mails, bulk approval."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from aiokafka import AIOKafkaProducer

from credflow_contracts.envelope import Envelope
from credflow_contracts.events.commands import SubmitCredential
from credflow_contracts.events.credentials import CredentialAccepted, CredentialValidated
from credflow_contracts.ids import uuid7
from credflow_contracts.topics import CREDENTIALS, SUBMISSION_COMMANDS
from tests.infrastructure import Infrastructure
from tests.integration.directory.conftest import Org
from tests.integration.kafka_support import read_topic
from tests.integration.review.conftest import Services, as_user
from tests.polling import eventually

pytestmark = pytest.mark.integration


async def reviewed_type(services: Services, org: Org) -> str:
    body = await services.post(
        org,
        "/credential-types",
        name="Driver's licence",
        default_validity_months=60,
        validation_required=True,
    )
    return str(body["credential_type_id"])


async def person(services: Services, org: Org, name: str, **fields: Any) -> dict[str, Any]:
    domain = org.admin_email.split("@")[1]
    return await services.post(org, "/users", email=f"{name}@{domain}", name=name.title(), **fields)


async def test_routing_to_the_manager_then_validation_mails_the_holder_once(
    services: Services, unique: str
) -> None:
    org = await services.org(f"Managers {unique}")
    type_id = await reviewed_type(services, org)
    manager = await person(services, org, "mia", roles=["manager"])
    worker = await person(services, org, "wes", manager_id=manager["user_id"])

    credential = await services.submit(org, as_user(org, worker), type_id)
    item = await services.item_for(org, as_user(org, manager), credential["credential_id"])
    assert item["routing"] == "managers"
    assert item["reviewer_ids"] == [manager["user_id"]]
    assert await services.queue(org, as_user(org, worker)) == [], "not routed to the holder"

    url = f"/organisations/{org.id}/reviews/{item['review_id']}"
    claimed = await services.review.post(f"{url}/claim", headers=as_user(org, manager))
    assert claimed.json()["claimed_by"] == manager["user_id"]
    validated = await services.review.post(
        f"{url}/validate", headers=as_user(org, manager), json={"comment": "Checked the registry."}
    )
    assert validated.status_code == 200, validated.text
    assert validated.json()["status"] == "validated"
    again = await services.review.post(f"{url}/validate", headers=as_user(org, manager), json={})
    assert again.status_code == 409

    async def mailed() -> bool:
        return len(await services.mails_to(worker["email"])) >= 1

    await eventually(mailed, timeout_s=30)
    reviewer_mail = await services.mails_to(manager["email"])
    assert [m["Subject"] for m in reviewer_mail] == ["Review needed: Driver's licence of Wes"]
    holder_mail = await services.mails_to(worker["email"])
    assert [m["Subject"] for m in holder_mail] == ["Your Driver's licence was verified"]


async def test_a_holder_without_a_manager_goes_to_the_group_admins(
    services: Services, unique: str
) -> None:
    org = await services.org(f"Fallback {unique}")
    type_id = await reviewed_type(services, org)
    coach = await person(services, org, "coach", roles=["reviewer"])
    group = await services.post(org, "/groups", name="Drivers", admin_ids=[coach["user_id"]])
    loner = await person(services, org, "lee", group_ids=[group["group_id"]])
    nobody = await person(services, org, "nora")  # no manager, no group: the organisation admins

    first = await services.submit(org, as_user(org, loner), type_id)
    item = await services.item_for(org, as_user(org, coach), first["credential_id"])
    assert (item["routing"], item["reviewer_ids"]) == ("group_admins", [coach["user_id"]])
    second = await services.submit(org, as_user(org, nobody), type_id)
    item = await services.item_for(org, org.admin, second["credential_id"])
    assert item["reviewer_ids"] == [str(org.admin_id)]


async def test_group_admin_and_reviewer_group_routing_modes(
    services: Services, unique: str
) -> None:
    org = await services.org(f"Modes {unique}")
    type_id = await reviewed_type(services, org)
    lead = await person(services, org, "lead", roles=["manager"])
    crew = await services.post(org, "/groups", name="Crew", admin_ids=[lead["user_id"]])
    boss = await person(services, org, "boss", roles=["manager"])
    worker = await person(
        services, org, "will", manager_id=boss["user_id"], group_ids=[crew["group_id"]]
    )

    await services.settings(org, reviewer_routing="group_admins")
    by_group = await services.submit(org, as_user(org, worker), type_id)
    item = await services.item_for(org, as_user(org, lead), by_group["credential_id"])
    assert (item["routing"], item["reviewer_ids"]) == ("group_admins", [lead["user_id"]])

    coordinators = await services.post(org, "/groups", name="Coordinators")
    ann = await person(
        services, org, "ann", roles=["reviewer"], group_ids=[coordinators["group_id"]]
    )
    bob = await person(
        services, org, "bob", roles=["reviewer"], group_ids=[coordinators["group_id"]]
    )
    await services.settings(
        org, reviewer_routing="reviewer_group", reviewer_group_id=coordinators["group_id"]
    )
    by_reviewers = await services.submit(org, as_user(org, worker), type_id)
    item = await services.item_for(org, as_user(org, bob), by_reviewers["credential_id"])
    assert item["routing"] == "reviewer_group"
    assert sorted(item["reviewer_ids"]) == sorted([ann["user_id"], bob["user_id"]])


async def test_rejections_need_a_comment_nobody_reviews_themselves_superseded_is_409(
    services: Services, unique: str
) -> None:
    org = await services.org(f"Rules {unique}")
    type_id = await reviewed_type(services, org)
    manager = await person(services, org, "max", roles=["manager"])
    worker = await person(services, org, "wanda", manager_id=manager["user_id"])
    credential = await services.submit(org, as_user(org, worker), type_id)
    item = await services.item_for(org, as_user(org, manager), credential["credential_id"])
    url = f"/organisations/{org.id}/reviews/{item['review_id']}"

    no_comment = await services.review.post(
        f"{url}/reject", json={"comment": " "}, headers=as_user(org, manager)
    )
    assert no_comment.status_code == 422
    assert no_comment.json()["errors"][0]["path"] == "body.comment"
    missing = await services.review.post(f"{url}/reject", json={}, headers=as_user(org, manager))
    assert missing.status_code == 422

    # The admin's own credential, routed to the admins: the admin may not decide it.
    own = await services.submit(org, org.admin, type_id)
    own_item = await services.item_for(org, org.admin, own["credential_id"])
    forbidden = await services.review.post(
        f"/organisations/{org.id}/reviews/{own_item['review_id']}/validate",
        json={},
        headers=org.admin,
    )
    assert forbidden.status_code == 403

    renewed = await services.submission.post(
        f"/organisations/{org.id}/credentials/{credential['credential_id']}/versions",
        json={"issued_on": "2026-06-01"},
        headers=as_user(org, worker),
    )
    assert renewed.status_code == 201
    await services.item_for(org, as_user(org, manager), credential["credential_id"], 2)
    stale = await services.review.post(f"{url}/validate", json={}, headers=as_user(org, manager))
    assert stale.status_code == 409
    assert "newer version" in stale.json()["detail"]


async def test_a_type_without_validation_ends_submitted_with_no_review_item(
    services: Services, infra: Infrastructure, unique: str
) -> None:
    org = await services.org(f"Plain {unique}")
    plain = await services.post(
        org, "/credential-types", name="White card", expires=False, validation_required=False
    )
    worker = await person(services, org, "walt")
    credential = await services.submit(org, as_user(org, worker), plain["credential_type_id"])
    landed = await read_topic(infra.kafka_bootstrap_servers, services.topic_prefix + CREDENTIALS, 2)
    accepted = [
        r.envelope.event for r in landed if isinstance(r.envelope.event, CredentialAccepted)
    ]
    assert [str(a.credential_id) for a in accepted] == [credential["credential_id"]]
    assert await services.queue(org, org.admin, everyone=True) == []


async def test_bulk_approve_of_1000_items_validates_each_exactly_once(
    services: Services, infra: Infrastructure, unique: str
) -> None:
    org = await services.org(f"Bulk {unique}")
    type_id = await reviewed_type(services, org)
    worker = await person(services, org, "bulk")
    import_id = uuid7()
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers, linger_ms=5)
    await producer.start()
    for row in range(1, 1001):
        command = SubmitCredential(
            command_id=uuid7(),
            credential_id=uuid7(),
            organisation_id=org.id,
            import_id=import_id,
            row_number=row,
            holder_id=UUID(worker["user_id"]),
            credential_type_id=UUID(type_id),
            issued_on="2026-02-01",
            requested_by=org.admin_id,
        )
        record = Envelope(event=command, source="/credflow/importer", tenant_id=org.id).to_kafka()
        await producer.send(
            services.topic_prefix + SUBMISSION_COMMANDS,
            record.value,
            key=record.key,
            headers=record.headers,
        )
    await producer.flush()
    await producer.stop()

    async def all_routed() -> bool:
        items = await services.queue(org, org.admin, import_id=str(import_id), limit=1000)
        return len(items) == 1000

    await eventually(all_routed, timeout_s=180)
    response = await services.review.post(
        f"/organisations/{org.id}/reviews/bulk-approve",
        json={"import_id": str(import_id)},
        headers=org.admin,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"approved": 1000, "failed": 0, "failures": []}
    repeat = await services.review.post(
        f"/organisations/{org.id}/reviews/bulk-approve",
        json={"import_id": str(import_id)},
        headers=org.admin,
    )
    assert repeat.json()["approved"] == 0, "nothing left to approve"

    landed = await read_topic(
        infra.kafka_bootstrap_servers, services.topic_prefix + CREDENTIALS, 3000, timeout_s=180
    )
    validated = [
        r.envelope.event for r in landed if isinstance(r.envelope.event, CredentialValidated)
    ]
    assert len(validated) == 1000
    assert len({v.review_id for v in validated}) == 1000
    assert len({v.credential_id for v in validated}) == 1000
    assert all(v.bulk for v in validated)


async def test_open_items_follow_directory_changes(services: Services, unique: str) -> None:
    org = await services.org(f"Reroute {unique}")
    type_id = await reviewed_type(services, org)
    old_boss = await person(services, org, "olga", roles=["manager"])
    new_boss = await person(services, org, "nick", roles=["manager"])
    worker = await person(services, org, "walker", manager_id=old_boss["user_id"])
    credential = await services.submit(org, as_user(org, worker), type_id)
    await services.item_for(org, as_user(org, old_boss), credential["credential_id"])

    moved = await services.directory.client.patch(
        org.url(f"/users/{worker['user_id']}"),
        json={"manager_id": new_boss["user_id"]},
        headers=org.admin,
    )
    await services.replicated(moved.json())
    item = await services.item_for(org, as_user(org, new_boss), credential["credential_id"])
    assert item["reviewer_ids"] == [new_boss["user_id"]]
    assert await services.queue(org, as_user(org, old_boss)) == []

    gone = await services.directory.client.post(
        org.url(f"/users/{new_boss['user_id']}/deactivate"), headers=org.admin
    )
    await services.replicated(gone.json())
    item = await services.item_for(org, org.admin, credential["credential_id"])
    assert item["reviewer_ids"] == [str(org.admin_id)], "no active manager: the admins"


async def test_edits_and_internal_equivalent_made_while_reviewing_are_published(
    services: Services, infra: Infrastructure, unique: str
) -> None:
    org = await services.org(f"Edits {unique}")
    type_id = await reviewed_type(services, org)
    template = await services.post(
        org,
        "/credential-types",
        name="Internal driving course",
        expires=False,
        validation_required=False,
    )
    worker = await person(services, org, "edna")
    credential = await services.submit(org, as_user(org, worker), type_id)
    item = await services.item_for(org, org.admin, credential["credential_id"])
    response = await services.review.post(
        f"/organisations/{org.id}/reviews/{item['review_id']}/validate",
        headers=org.admin,
        json={
            "edits": {
                "changed": ["expires_on", "certification_number"],
                "expires_on": "2030-05-01",
                "certification_number": "DL-42",
            },
            "internal_equivalent_id": template["credential_type_id"],
        },
    )
    assert response.status_code == 200, response.text
    landed = await read_topic(infra.kafka_bootstrap_servers, services.topic_prefix + CREDENTIALS, 3)
    [validated] = [
        r.envelope.event for r in landed if isinstance(r.envelope.event, CredentialValidated)
    ]
    assert validated.edits is not None
    assert validated.edits.certification_number == "DL-42"
    assert str(validated.edits.expires_on) == "2030-05-01"
    assert str(validated.internal_equivalent_id) == template["credential_type_id"]


async def test_digest_organisations_get_one_mail_per_reviewer_per_digest(
    services: Services, unique: str
) -> None:
    org = await services.org(f"Digest {unique}")
    await services.settings(org, review_notifications="digest")
    type_id = await reviewed_type(services, org)
    boss = await person(services, org, "dora", roles=["manager"])
    workers = [await person(services, org, f"w{n}", manager_id=boss["user_id"]) for n in range(3)]
    for worker in workers:
        credential = await services.submit(org, as_user(org, worker), type_id)
        await services.item_for(org, as_user(org, boss), credential["credential_id"])
    assert await services.mails_to(boss["email"]) == [], "held for the digest"

    async with services.review_context.pool.connection() as conn:  # the hour passes
        await conn.execute(
            "UPDATE mail_outbox SET deliver_after = now() - interval '1 second'"
            " WHERE digest_key IS NOT NULL"
        )

    async def digested() -> bool:
        return len(await services.mails_to(boss["email"])) >= 1

    await eventually(digested, timeout_s=30)
    [digest] = await services.mails_to(boss["email"])
    assert digest["Subject"] == "3 credential(s) waiting for your review"
