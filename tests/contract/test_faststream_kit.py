"""The FastStream kit of credflow-contracts, with FastStream's in-memory TestKafkaBroker: the
golden records of `credflow.credentials` arrive typed, other organisations' records, types not
asked for and types this release does not know are skipped by their headers, and a malformed
record is reported."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from faststream.kafka import TestKafkaBroker

from credflow_contracts.catalogue import BY_CE_TYPE, CURRENT
from credflow_contracts.envelope import Envelope
from credflow_contracts.faststream_kit import MalformedRecordError
from credflow_contracts.topics import CREDENTIALS

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
GOLDEN = [json.loads(p.read_text()) for p in sorted((CONTRACTS / "golden").glob("*.json"))]
CREDENTIAL_SAMPLES = [s for s in GOLDEN if BY_CE_TYPE[s["headers"]["ce_type"]].TOPIC == CREDENTIALS]
TENANT = UUID(CREDENTIAL_SAMPLES[0]["headers"]["ce_tenantid"])


def example() -> Any:
    spec = importlib.util.spec_from_file_location(
        "faststream_consumer", CONTRACTS / "examples" / "faststream_consumer.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def publish(broker: Any, sample: dict[str, Any], **header_changes: str) -> None:
    await broker.publish(
        json.dumps(sample["value"]).encode(),
        CREDENTIALS,
        key=sample["key"].encode(),
        headers=sample["headers"] | header_changes,
    )


async def test_every_golden_credential_record_arrives_typed() -> None:
    received: list[Envelope] = []
    broker = example().build("127.0.0.1:9", CREDENTIALS, "g", received.append)
    async with TestKafkaBroker(broker) as test_broker:
        for sample in CREDENTIAL_SAMPLES:
            await publish(test_broker, sample)
    assert len(received) == len(CREDENTIAL_SAMPLES) > 10
    for envelope, sample in zip(received, CREDENTIAL_SAMPLES, strict=True):
        name = sample["headers"]["ce_type"].rpartition(".v")[0]
        assert type(envelope.event) is CURRENT[name], "older versions are upcast"
        assert str(envelope.id) == sample["headers"]["ce_id"]
        assert envelope.tenant_id == TENANT


async def test_records_are_chosen_by_their_headers_and_the_rest_skipped() -> None:
    received: list[Envelope] = []
    wanted = {"credflow.credential.submitted"}
    broker = example().build("127.0.0.1:9", CREDENTIALS, "g", received.append, TENANT, wanted)
    submitted = next(s for s in CREDENTIAL_SAMPLES if s["headers"]["ce_type"].endswith(
        "submitted.v2"))  # fmt: skip
    other = next(s for s in CREDENTIAL_SAMPLES if "submitted" not in s["headers"]["ce_type"])
    async with TestKafkaBroker(broker) as test_broker:
        await publish(test_broker, submitted)
        await publish(test_broker, other)  # a type not asked for
        # another organisation's: never parsed, so even a body that is not JSON is fine
        stranger = {"ce_tenantid": "01900000-0000-7000-8000-00000000ffff"}
        await test_broker.publish(b"not json", CREDENTIALS, headers=submitted["headers"] | stranger)
        # a type added after this release of the contracts
        await publish(test_broker, submitted, ce_type="credflow.credential.teleported.v1")
        await publish(test_broker, submitted, ce_type="credflow.credential.submitted.v9")
    assert [type(e.event).__name__ for e in received] == ["CredentialSubmitted"]


async def test_a_malformed_record_is_reported_with_where_it_is() -> None:
    broker = example().build("127.0.0.1:9", CREDENTIALS, "g", lambda envelope: None)
    sample = CREDENTIAL_SAMPLES[0]
    async with TestKafkaBroker(broker) as test_broker:
        with pytest.raises(MalformedRecordError, match="not a credflow event at"):
            await test_broker.publish(b'{"credential_id": 7}', CREDENTIALS,
                                      headers=sample["headers"])  # fmt: skip
