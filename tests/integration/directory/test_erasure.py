"""Erasing a person through the directory's API: only an admin holding privacy:erase may; a
person under legal hold, the last active admin and nobody are refused; asking twice returns
the same erasure; its steps run by themselves (the person deactivated, their data key gone
(410), their name and email replaced, PersonErased published, ids only), then it waits for
every service's report on `credflow.erasures` (played here by the test; the end-to-end tests
run the real services) and completes with a receipt of what each deleted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaProducer

from credflow_common.auth import PERSONAL_DATA_PERMISSION
from credflow_contracts.envelope import Envelope
from credflow_contracts.events.directory import PersonErased, UserUpdated
from credflow_contracts.events.erasures import ErasureReported
from credflow_contracts.ids import uuid7
from credflow_contracts.topics import ERASURES
from credflow_directory.erasures import ErasureSettings
from tests.infrastructure import Infrastructure
from tests.integration.directory.conftest import DirectoryApi, Org, token
from tests.integration.kafka_support import read_topic
from tests.polling import eventually

ERASE = ["privacy:erase"]


async def eraser(directory: DirectoryApi, org: Org, name: str) -> dict[str, str]:
    admin = await directory.create_user(org, f"{name}@erase.test", roles=["admin"],
                                        permissions=ERASE)  # fmt: skip
    return token(org.id, admin["user_id"], "admin", permissions=ERASE)


async def erasure_where(directory: DirectoryApi, org: Org, headers: dict[str, str],
                        erasure_id: str, done: Any) -> dict[str, Any]:  # fmt: skip
    found: dict[str, Any] = {}

    async def reached() -> bool:
        answer = await directory.client.get(org.url(f"/erasures/{erasure_id}"), headers=headers)
        assert answer.status_code == 200, answer.text
        found.clear()
        found.update(answer.json())
        return bool(done(found))

    await eventually(reached, timeout_s=30)
    return found


async def report(
    directory: DirectoryApi, bootstrap: str, org: UUID, user_id: str, erasure_id: str,
    services: list[str],
) -> None:  # fmt: skip
    """Each service's report, as its outbox relay would publish it."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for service in services:
            event = ErasureReported(
                erasure_id=UUID(erasure_id), organisation_id=org, user_id=UUID(user_id),
                service=service, deleted={"mails": 2}, reported_at=datetime.now(UTC),
            )  # fmt: skip
            record = Envelope(event, f"/credflow/{service}", org).to_kafka()
            await producer.send_and_wait(directory.topic_prefix + ERASURES, record.value,
                                         key=record.key, headers=record.headers)  # fmt: skip
    finally:
        await producer.stop()


async def test_an_erasure_completes_with_a_receipt_and_asking_twice_returns_it(
    directory: DirectoryApi, infra: Infrastructure
) -> None:
    org = await directory.create_org("Erase Co")
    erase = await eraser(directory, org, "eve")
    pat = await directory.create_user(org, "pat.marker@erase.test", name="Pat Marker")
    keys = token(uuid7(), uuid7(), permissions=[PERSONAL_DATA_PERMISSION])
    key_path = org.url(f"/users/{pat['user_id']}/data-key")
    assert (await directory.client.get(key_path, headers=keys)).status_code == 200

    asked = await directory.client.post(org.url(f"/users/{pat['user_id']}/erasure"),
                                        headers=erase)  # fmt: skip
    assert asked.status_code == 202, asked.text
    erasure_id = asked.json()["erasure_id"]
    assert asked.headers["location"] == org.url(f"/erasures/{erasure_id}")
    again = await directory.client.post(org.url(f"/users/{pat['user_id']}/erasure"),
                                        headers=erase)  # fmt: skip
    assert again.json()["erasure_id"] == erasure_id, "the same erasure"

    waiting = await erasure_where(directory, org, erase, erasure_id,
                                  lambda found: len(found["steps"]) == 4)  # fmt: skip
    services = ErasureSettings().services
    assert waiting["status"] == "in_progress", "the services have not reported"
    assert [s["service"] for s in waiting["services"]] == sorted(services)
    assert all(s["reported_at"] is None for s in waiting["services"])
    await report(directory, infra.kafka_bootstrap_servers, org.id, pat["user_id"], erasure_id,
                 services[:-1])  # fmt: skip
    await report(directory, infra.kafka_bootstrap_servers, uuid7(), pat["user_id"], erasure_id,
                 services[-1:])  # fmt: skip
    partly = await erasure_where(directory, org, erase, erasure_id,
                                 lambda found: sum(bool(s["reported_at"])
                                                   for s in found["services"]) == 3)  # fmt: skip
    assert partly["status"] == "in_progress", "another organisation's report does not count"
    await report(directory, infra.kafka_bootstrap_servers, org.id, pat["user_id"], erasure_id,
                 services)  # fmt: skip
    done = await erasure_where(directory, org, erase, erasure_id,
                               lambda found: found["status"] == "completed")  # fmt: skip
    assert [s["step"] for s in done["steps"]] == [
        "deactivated", "key_destroyed", "personal_fields_replaced", "announced"
    ]  # fmt: skip
    receipt = done["receipt"]
    assert receipt["destroyed"][0]["existed"] is True
    assert set(receipt["replaced"][0]["fields"]) >= {"name", "email"}
    assert receipt["announced"]["event"] == "credflow.directory.person_erased.v1"
    deleted = {d["service"]: d for d in receipt["deleted"]}
    assert set(deleted) == set(services), "each service once, though three reported twice"
    assert all(d["counts"] == {"mails": 2} and d["what"] for d in deleted.values())

    person = (await directory.client.get(org.url(f"/users/{pat['user_id']}"),
                                         headers=org.admin)).json()  # fmt: skip
    assert (person["name"], person["status"]) == ("Erased person", "deactivated")
    assert "marker" not in person["email"]
    gone = await directory.client.get(key_path, headers=keys)
    assert gone.status_code == 410, "no key is handed out again, nor a new one made"

    landed = await read_topic(infra.kafka_bootstrap_servers, directory.topic, 1)
    mine = [r.envelope.event for r in landed
            if getattr(r.envelope.event, "user_id", None) is not None
            or isinstance(r.envelope.event, UserUpdated)]  # fmt: skip
    erased = [e for e in mine if isinstance(e, PersonErased)]
    assert [(str(e.user_id), str(e.erasure_id)) for e in erased] == [(pat["user_id"], erasure_id)]
    last = [e for e in mine if isinstance(e, UserUpdated)
            and str(e.user.user_id) == pat["user_id"]][-1]  # fmt: skip
    assert last.user.name == "Erased person"


async def test_refusals_name_their_reason(directory: DirectoryApi) -> None:
    org = await directory.create_org("Refuse Co")
    erase = await eraser(directory, org, "ida")
    pat = await directory.create_user(org, "pat@refuse.test", roles=["worker"])
    path = org.url(f"/users/{pat['user_id']}/erasure")

    worker = token(org.id, pat["user_id"], "worker")
    assert (await directory.client.post(path, headers=worker)).status_code == 403
    plain_admin = await directory.client.post(path, headers=org.admin)
    assert plain_admin.status_code == 403, "an admin without privacy:erase"
    assert "privacy:erase" in plain_admin.json()["detail"]
    unknown = await directory.client.post(org.url(f"/users/{uuid7()}/erasure"), headers=erase)
    assert unknown.status_code == 404

    await directory.client.post(org.url(f"/users/{pat['user_id']}/legal-hold"),
                                json={"reason": "Claim 2026-114"}, headers=org.admin)  # fmt: skip
    held = await directory.client.post(path, headers=erase)
    assert held.status_code == 409
    assert "Claim 2026-114" in held.json()["detail"]

    other_org = await directory.create_org("Alone Co")
    alone = await directory.client.post(
        other_org.url(f"/users/{other_org.admin_id}/erasure"),
        headers=token(other_org.id, other_org.admin_id, "admin", permissions=ERASE),
    )  # fmt: skip
    assert alone.status_code == 403, "a token cannot give a permission the directory did not"
    eraser_of_alone = await eraser(directory, other_org, "solo")
    await directory.client.post(other_org.url(f"/users/{other_org.admin_id}/deactivate"),
                                headers=other_org.admin)  # fmt: skip
    solo_id = token_subject(eraser_of_alone)
    last = await directory.client.post(other_org.url(f"/users/{solo_id}/erasure"),
                                       headers=eraser_of_alone)  # fmt: skip
    assert last.status_code == 409
    assert "last active admin" in last.json()["detail"]


def token_subject(headers: dict[str, str]) -> str:
    import jwt

    claims = jwt.decode(headers["Authorization"].removeprefix("Bearer "),
                        options={"verify_signature": False})  # fmt: skip
    return str(claims["sub"])
