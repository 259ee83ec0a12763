"""The FastStream example subscriber (contracts/examples/faststream_consumer.py) against real
Kafka: the golden credential records arrive typed, the rest is skipped by its headers, and the
example creates no topic."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from credflow_contracts.catalogue import CURRENT
from credflow_contracts.envelope import Envelope
from tests.contract.test_faststream_kit import CREDENTIAL_SAMPLES, TENANT, example
from tests.infrastructure import Infrastructure
from tests.polling import eventually

pytestmark = pytest.mark.integration


async def produce(bootstrap: str, topic: str, samples: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for sample in samples:
            await producer.send_and_wait(
                topic, json.dumps(sample["value"]).encode(), key=sample["key"].encode(),
                headers=[(k, v.encode()) for k, v in sample["headers"].items()],
            )  # fmt: skip
    finally:
        await producer.stop()


async def test_the_faststream_example_reads_golden_records_typed(
    infra: Infrastructure, topic_prefix: str, unique: str
) -> None:
    topic = f"{topic_prefix}credflow.credentials"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()
    stranger = [s | {"headers": s["headers"] | {"ce_tenantid": str(UUID(int=7))}}
                for s in CREDENTIAL_SAMPLES[:3]]  # fmt: skip
    teleported = {"ce_type": "credflow.credential.teleported.v1"}
    future = [CREDENTIAL_SAMPLES[0] | {"headers": CREDENTIAL_SAMPLES[0]["headers"] | teleported}]
    await produce(infra.kafka_bootstrap_servers, topic, [*stranger, *future, *CREDENTIAL_SAMPLES])

    received: list[Envelope] = []
    broker = example().build(infra.kafka_bootstrap_servers, topic, f"{topic_prefix}example",
                             received.append, TENANT)  # fmt: skip
    async with broker:
        await broker.start()

        async def all_arrived() -> bool:
            return len(received) >= len(CREDENTIAL_SAMPLES)

        await eventually(all_arrived, timeout_s=60)
        await asyncio.sleep(1)  # nothing more arrives: the skipped records stay skipped
    expected = [CURRENT[s["headers"]["ce_type"].rpartition(".v")[0]] for s in CREDENTIAL_SAMPLES]
    assert sorted(type(e.event).__name__ for e in received) == sorted(c.__name__ for c in expected)
    assert {e.tenant_id for e in received} == {TENANT}

    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        created = [t for t in await admin.list_topics() if t.startswith(topic_prefix)]
    finally:
        await admin.close()
    assert created == [topic], "declare=False: the example creates no topic"
