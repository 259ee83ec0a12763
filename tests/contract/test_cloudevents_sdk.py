"""Our Kafka records and the CloudEvents Python SDK's Kafka binding understand each other."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from credflow_contracts.envelope import Envelope
from credflow_contracts.events.credentials import CredentialValidated
from credflow_contracts.ids import uuid7

ORG = uuid.UUID("01900000-0000-7000-8000-00000000a001")


def validated() -> CredentialValidated:
    return CredentialValidated(
        credential_id=uuid7(),
        organisation_id=ORG,
        review_id=uuid7(),
        version_id=uuid7(),
        validated_by=uuid7(),
        comment="Checked against the registry.",
    )


def test_records_we_produce_parse_with_the_sdk() -> None:
    envelope = Envelope(
        event=validated(), source="/credflow/review", tenant_id=ORG,
        correlation_id=uuid7(), aggregate_version=3,
    )  # fmt: skip
    record = envelope.to_kafka()
    message = ce_kafka.KafkaMessage(
        headers=dict(record.headers), key=record.key, value=record.value
    )

    event = ce_kafka.from_binary(message, JSONFormat())

    assert event.get_specversion() == "1.0"
    assert event.get_id() == str(envelope.id)
    assert event.get_type() == "credflow.credential.validated.v1"
    assert event.get_source() == "/credflow/review"
    assert event.get_subject() == envelope.subject
    assert event.get_time() == envelope.time
    assert event.get_datacontenttype() == "application/json"
    assert event.get_extension("tenantid") == str(ORG)
    assert event.get_extension("correlationid") == str(envelope.correlation_id)
    assert event.get_extension("aggregateversion") == "3"
    data = event.get_data()
    assert isinstance(data, dict)
    assert data["comment"] == "Checked against the registry."


def test_records_built_by_the_sdk_parse_with_ours() -> None:
    credential_id = uuid7()
    payload = {
        "credential_id": str(credential_id),
        "organisation_id": str(ORG),
        "holder_id": str(uuid7()),
        "credential_type_id": str(uuid7()),
        "version_id": str(uuid7()),
        "issued_on": "2026-02-01",
        "expires_on": "2029-02-01",
        "issuer": {"name": "St John Ambulance"},
        "certification": {"number": "FA-778"},
        "submitted_by": str(uuid7()),
    }
    sdk_event = CloudEvent(
        attributes={
            "id": str(uuid7()),
            "source": "/someone-else/bridge",
            "type": "credflow.credential.submitted.v2",
            "specversion": "1.0",
            "time": datetime(2026, 2, 1, 8, 0, tzinfo=UTC),
            "subject": str(credential_id),
            "datacontenttype": "application/json",
            "tenantid": str(ORG),
            "partitionkey": str(credential_id),
        },
        data=payload,
    )
    message = ce_kafka.to_binary(sdk_event, JSONFormat())
    headers = list(message.headers.items())

    envelope = Envelope.from_kafka(message.value, headers)

    assert envelope.source == "/someone-else/bridge"
    assert envelope.tenant_id == ORG
    assert envelope.time == datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
    assert envelope.subject == str(credential_id)
    event = envelope.event
    assert event.model_dump()["expires_on"] == date(2029, 2, 1)
    assert event.model_dump()["certification"] == {"number": "FA-778", "verification_url": None}
    key = message.key.encode() if isinstance(message.key, str) else message.key
    assert key == str(credential_id).encode()
