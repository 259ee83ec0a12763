"""Every event version we ever published keeps parsing into the current models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from credflow_contracts.catalogue import ALL_VERSIONS, CURRENT
from credflow_contracts.envelope import Envelope
from credflow_contracts.events.credentials import CredentialSubmitted

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
GOLDEN = sorted((CONTRACTS / "golden").glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    sample: dict[str, Any] = json.loads(path.read_text())
    return sample


def as_record(sample: dict[str, Any]) -> tuple[bytes, list[tuple[str, bytes]]]:
    headers = [(k, v.encode()) for k, v in sample["headers"].items()]
    return json.dumps(sample["value"]).encode(), headers


def test_every_published_version_has_a_golden_sample() -> None:
    names = {path.stem for path in GOLDEN}
    assert {cls.ce_type() for cls in ALL_VERSIONS} <= names


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_sample_parses_into_the_current_model(path: Path) -> None:
    sample = load(path)
    envelope = Envelope.from_kafka(*as_record(sample))
    name = sample["headers"]["ce_type"].rpartition(".v")[0]
    assert type(envelope.event) is CURRENT[name]
    assert envelope.subject == sample["key"] == sample["headers"]["ce_subject"]
    assert str(envelope.tenant_id) == sample["headers"]["ce_tenantid"]


def test_credential_submitted_v1_is_upcast_to_v2() -> None:
    sample = load(CONTRACTS / "golden" / "credflow.credential.submitted.v1.json")
    event = Envelope.from_kafka(*as_record(sample)).event
    assert isinstance(event, CredentialSubmitted)
    assert event.issuer is not None
    assert event.issuer.name == sample["value"]["issuer"]
    assert event.certification is not None
    assert event.certification.number == sample["value"]["certification_number"]
    assert event.version_number == 1
    assert event.holder_id.hex == sample["value"]["holder_id"].replace("-", "")


def test_v1_without_issuer_or_number_upcasts_to_absent_structures() -> None:
    sample = load(CONTRACTS / "golden" / "credflow.credential.submitted.v1.json")
    del sample["value"]["issuer"]
    sample["value"]["certification_number"] = None
    event = Envelope.from_kafka(*as_record(sample)).event
    assert isinstance(event, CredentialSubmitted)
    assert event.issuer is None
    assert event.certification is None


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_readers_ignore_unknown_fields(path: Path) -> None:
    sample = load(path)
    sample["value"]["added_in_a_later_minor_release"] = {"anything": [1, 2, 3]}
    envelope = Envelope.from_kafka(*as_record(sample))
    assert "added_in_a_later_minor_release" not in envelope.event.model_dump()
