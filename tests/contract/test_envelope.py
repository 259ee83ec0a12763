"""The CloudEvents envelope and its Kafka binary-mode mapping, both ways."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credflow_contracts.catalogue import UnknownEventTypeError, read_event
from credflow_contracts.envelope import Envelope, EnvelopeError
from credflow_contracts.events.credentials import CredentialRejected, CredentialSubmitted
from credflow_contracts.events.values import Certification, Issuer
from credflow_contracts.ids import uuid7

ORG = uuid.UUID("01900000-0000-7000-8000-00000000a001")


def submitted(**overrides: object) -> CredentialSubmitted:
    fields: dict[str, object] = {
        "credential_id": uuid7(),
        "organisation_id": ORG,
        "holder_id": uuid7(),
        "credential_type_id": uuid7(),
        "version_id": uuid7(),
        "issued_on": date(2026, 1, 5),
        "expires_on": date(2031, 1, 5),
        "issuer": Issuer(name="Transport for NSW", country="AU"),
        "certification": Certification(number="DL-123456"),
        "submitted_by": uuid7(),
    }
    fields.update(overrides)
    return CredentialSubmitted.model_validate(fields)


def test_round_trip_keeps_every_attribute() -> None:
    envelope = Envelope(
        event=submitted(),
        source="/credflow/submission",
        tenant_id=ORG,
        correlation_id=uuid7(),
        causation_id=uuid7(),
        aggregate_version=1,
    )
    record = envelope.to_kafka()
    assert isinstance(envelope.event, CredentialSubmitted)
    assert record.key == str(envelope.event.credential_id).encode()
    headers = dict(record.headers)
    assert headers["ce_type"] == b"credflow.credential.submitted.v2"
    assert headers["ce_subject"] == record.key
    assert headers["content-type"] == b"application/json"
    assert headers["ce_time"].endswith(b"Z")

    back = Envelope.from_kafka(record.value, record.headers)
    assert back == envelope


def test_ce_id_is_a_uuid7_and_ids_sort_by_time() -> None:
    first, second = uuid7(1_700_000_000_000), uuid7(1_700_000_000_001)
    assert first.version == 7
    assert first.variant == uuid.RFC_4122
    assert first < second
    assert Envelope(event=submitted(), source="/s", tenant_id=ORG).id.version == 7


@given(st.integers(min_value=0, max_value=(1 << 48) - 1))
def test_uuid7_carries_its_millisecond_timestamp(ms: int) -> None:
    value = uuid7(ms)
    assert value.int >> 80 == ms
    assert value.version == 7


def test_times_are_published_in_utc() -> None:
    sydney = timezone(timedelta(hours=11))
    envelope = Envelope(
        event=submitted(),
        source="/s",
        tenant_id=ORG,
        time=datetime(2026, 1, 5, 9, 0, tzinfo=sydney),
    )
    headers = dict(envelope.to_kafka().headers)
    assert headers["ce_time"] == b"2026-01-04T22:00:00Z"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("ce_type", "missing CloudEvents headers: ce_type"),
        ("ce_tenantid", "missing CloudEvents headers: ce_tenantid"),
    ],
)
def test_missing_required_header_is_a_clear_error(header: str, message: str) -> None:
    record = Envelope(event=submitted(), source="/s", tenant_id=ORG).to_kafka()
    headers = [(k, v) for k, v in record.headers if k != header]
    with pytest.raises(EnvelopeError, match=message):
        Envelope.from_kafka(record.value, headers)


def test_payload_that_breaks_the_schema_is_an_envelope_error() -> None:
    record = Envelope(event=submitted(), source="/s", tenant_id=ORG).to_kafka()
    value = json.loads(record.value)
    value["issued_on"] = "5th of January"
    with pytest.raises(EnvelopeError, match="issued_on"):
        Envelope.from_kafka(json.dumps(value).encode(), record.headers)


def test_unknown_event_type_is_reported_as_such() -> None:
    with pytest.raises(UnknownEventTypeError, match=r"credflow\.credential\.teleported\.v1"):
        read_event("credflow.credential.teleported.v1", {})
    with pytest.raises(UnknownEventTypeError, match="unknown event type"):
        read_event("credflow.credential.submitted.v9", {})


def test_rejection_needs_a_comment() -> None:
    with pytest.raises(ValueError, match="comment"):
        CredentialRejected.model_validate(
            {
                "credential_id": uuid7(), "organisation_id": ORG, "review_id": uuid7(),
                "version_id": uuid7(), "rejected_by": uuid7(), "comment": "",
            }
        )  # fmt: skip


def test_naive_datetimes_are_refused() -> None:
    from credflow_contracts.events.credentials import CredentialExpired

    fields = {
        "credential_id": uuid7(), "organisation_id": ORG, "holder_id": uuid7(),
        "credential_type_id": uuid7(), "version_id": uuid7(), "expires_on": date(2026, 1, 1),
    }  # fmt: skip
    with pytest.raises(ValueError, match="timezone"):
        CredentialExpired.model_validate({**fields, "detected_at": datetime(2026, 1, 2, 0, 0)})
    event = CredentialExpired.model_validate(
        {**fields, "detected_at": datetime(2026, 1, 2, 10, 0, tzinfo=timezone(timedelta(hours=10)))}
    )
    assert event.detected_at == datetime(2026, 1, 2, 0, 0, tzinfo=UTC)
    assert event.detected_at.utcoffset() == timedelta(0)
