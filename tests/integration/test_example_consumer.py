"""The example subscriber in contracts/examples reads real records from Kafka, typed."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.infrastructure import Infrastructure
from tests.integration.runtime_support import delete_topics_with_prefix

pytestmark = pytest.mark.integration
CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


async def test_example_consumer_prints_typed_events_skips_unknown_types_and_resumes(
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
    other_org = json.loads(json.dumps(samples[1]))
    other_org["headers"]["ce_tenantid"] = other_org["value"]["organisation_id"] = str(uuid4())
    other_org["value"]["comment"] = "another organisation's"
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await producer.start()
    for sample in (samples[0], future_type, samples[1], other_org):
        await producer.send_and_wait(
            topic,
            json.dumps(sample["value"]).encode(),
            key=sample["key"].encode(),
            headers=[(k, v.encode()) for k, v in sample["headers"].items()],
        )
    await producer.stop()

    async def consumer(group: str, *options: str) -> list[str]:
        result = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable, str(CONTRACTS / "examples" / "consumer.py"),
                "--bootstrap-servers", infra.kafka_bootstrap_servers,
                "--topic", topic, "--group", f"{group}-{unique}", *options,
            ],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        lines: list[str] = result.stdout.splitlines()
        return lines

    lines = await consumer("example", "--max-events", "2")
    assert len(lines) == 2, lines
    holder = samples[0]["value"]["holder_id"]
    assert "credflow.credential.submitted.v2" in lines[0], "v1 is read as the current v2"
    assert f"submitted: holder {holder}" in lines[0]
    assert f"rejected by {samples[1]['value']['rejected_by']}" in lines[1]
    assert "teleported" not in "".join(lines)

    # The same group again continues after what it printed, and stops once nothing comes.
    rest = await consumer("example", "--idle-exit", "2")
    assert len(rest) == 1, rest
    assert "another organisation's" in rest[0]

    # One organisation only.
    mine = await consumer("one-org", "--organisation", samples[0]["headers"]["ce_tenantid"],
                          "--idle-exit", "2")  # fmt: skip
    assert mine == lines
    await delete_topics_with_prefix(infra.kafka_bootstrap_servers, topic)
