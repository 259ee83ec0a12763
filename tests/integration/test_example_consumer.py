"""The example subscriber in contracts/examples reads real records from Kafka, typed."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.infrastructure import Infrastructure
from tests.integration.runtime_support import delete_topics_with_prefix

pytestmark = pytest.mark.integration
CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


async def test_example_consumer_prints_typed_events_and_skips_unknown_types(
    infra: Infrastructure, unique: str
) -> None:
    topic = f"example.{unique}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    await admin.close()

    samples = [
        json.loads((CONTRACTS / "golden" / f"{name}.json").read_text())
        for name in ("credflow.credential.submitted.v1", "credflow.credential.rejected.v1")
    ]
    future_type = json.loads(json.dumps(samples[1]))
    future_type["headers"]["ce_type"] = "credflow.credential.teleported.v1"
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await producer.start()
    for sample in (samples[0], future_type, samples[1]):
        await producer.send_and_wait(
            topic,
            json.dumps(sample["value"]).encode(),
            key=sample["key"].encode(),
            headers=[(k, v.encode()) for k, v in sample["headers"].items()],
        )
    await producer.stop()

    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable, str(CONTRACTS / "examples" / "consumer.py"),
            "--bootstrap-servers", infra.kafka_bootstrap_servers,
            "--topic", topic, "--group", f"example-{unique}", "--max-events", "2",
        ],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout
    holder = samples[0]["value"]["holder_id"]
    assert "credflow.credential.submitted.v2" in lines[0], "v1 is read as the current v2"
    assert f"submitted: holder {holder}" in lines[0]
    assert f"rejected by {samples[1]['value']['rejected_by']}" in lines[1]
    assert "teleported" not in result.stdout
    await delete_topics_with_prefix(infra.kafka_bootstrap_servers, topic)
