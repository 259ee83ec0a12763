"""The subscriber kit's example (contracts/examples/faststream_consumer.py) with personal data,
against real Kafka and the directory's data-key API: a subscriber holding
platform:personal-data reads a credential's sealed title opened; after the holder's erasure it
reads the title as erased; without the permission it is refused the keys."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from uuid import UUID

import pytest
from aiokafka import AIOKafkaProducer

from credflow_common.auth import PERSONAL_DATA_PERMISSION
from credflow_contracts.envelope import Envelope
from credflow_contracts.events.credentials import CredentialSubmitted
from credflow_contracts.faststream_kit import PersonalData, PersonalDataRefusedError
from credflow_contracts.ids import uuid7
from credflow_contracts.personal import seal_payload
from credflow_contracts.topics import CREDENTIALS
from tests.contract.test_faststream_kit import example
from tests.infrastructure import Infrastructure
from tests.integration.directory.conftest import DirectoryApi, token
from tests.integration.runtime_support import create_topics
from tests.polling import eventually

TITLE = "Pat's crane ticket"


async def read_with(kit: PersonalData, infra: Infrastructure, topic: str, group: str,
                    org: UUID) -> Envelope:  # fmt: skip
    received: list[Envelope] = []
    broker = example().build(infra.kafka_bootstrap_servers, topic, group, received.append, org,
                             {"credflow.credential.submitted"}, kit)  # fmt: skip
    async with broker:
        await broker.start()

        async def arrived() -> bool:
            return bool(received)

        await eventually(arrived, timeout_s=60)
    return received[0]


async def test_the_kit_opens_with_the_permission_marks_erased_and_is_refused_without(
    directory: DirectoryApi, infra: Infrastructure
) -> None:
    org = await directory.create_org("Kit Co")
    pat = UUID((await directory.create_user(org, "pat@kit.test", name="Pat Kit"))["user_id"])
    eve = await directory.create_user(org, "eve@kit.test", roles=["admin"],
                                      permissions=["privacy:erase"])  # fmt: skip
    holder = token(uuid7(), uuid7(), permissions=[PERSONAL_DATA_PERMISSION])["Authorization"]
    kit = PersonalData("http://directory", holder.removeprefix("Bearer "),
                       client=directory.client)  # fmt: skip

    key = (await kit.keys_of(org.id, [pat]))[pat]
    assert key is not None
    event = CredentialSubmitted(
        credential_id=uuid7(), organisation_id=org.id, holder_id=pat, credential_type_id=uuid7(),
        version_id=uuid7(), issued_on=date(2026, 1, 5), title=TITLE, submitted_by=pat,
    )  # fmt: skip
    envelope = Envelope(event, "/credflow/submission", org.id)
    sealed = seal_payload(event.ce_type(), envelope.id, event.model_dump(mode="json"), pat, key)
    record = envelope.to_kafka(json.dumps(sealed).encode())
    assert TITLE.encode() not in record.value
    topic = directory.topic_prefix + CREDENTIALS
    await create_topics(infra.kafka_bootstrap_servers, [topic])
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, record.value, key=record.key, headers=record.headers)
    finally:
        await producer.stop()

    opened = await read_with(kit, infra, topic, f"{topic}.kit", org.id)
    assert isinstance(opened.event, CredentialSubmitted)
    assert opened.event.title == TITLE
    assert opened.erased == frozenset()

    plain_admin = PersonalData("http://directory", org.admin["Authorization"][7:],
                               client=directory.client)  # fmt: skip
    with pytest.raises(PersonalDataRefusedError):
        await plain_admin.open(record.value, record.headers)

    erase = token(org.id, eve["user_id"], "admin", permissions=["privacy:erase"])
    asked = await directory.client.post(org.url(f"/users/{pat}/erasure"), headers=erase)
    assert asked.status_code == 202, asked.text
    await asyncio.sleep(0)
    later = PersonalData("http://directory", holder.removeprefix("Bearer "),
                         client=directory.client)  # fmt: skip
    after = await read_with(later, infra, topic, f"{topic}.after", org.id)
    assert isinstance(after.event, CredentialSubmitted)
    assert after.event.title != TITLE
    assert after.erased == frozenset({"title"})
