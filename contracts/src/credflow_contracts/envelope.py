"""The envelope: CloudEvents 1.0 attributes around an event, and its Kafka binary-mode mapping.

On Kafka (binary content mode) the value is the event's JSON, the key is the aggregate id, and
the attributes travel as headers: `ce_specversion`, `ce_id`, `ce_source`, `ce_type`, `ce_time`,
`ce_subject`, the extensions `ce_tenantid`, `ce_correlationid`, `ce_causationid`,
`ce_streamid` and `ce_streamversion` (the event stream that wrote the event, and its version
after it), `ce_aggregateversion` (the same version, under its first name), and
`content-type: application/json`. See contracts/README.md for what ordering a subscriber can
rely on per key, per stream and per event id.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from pydantic import ValidationError
from pydantic_core import from_json

from credflow_contracts.catalogue import Payload, read_event, read_event_json
from credflow_contracts.events.base import Event
from credflow_contracts.ids import uuid7
from credflow_contracts.personal import open_payload, personal_fields
from credflow_contracts.topics import partition_key

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
Headers = list[tuple[str, bytes]]
SEALED_PLACEHOLDER = "(sealed)"
"""What a personal field reads as for a reader without its person's key."""
Opener = Callable[[str, UUID, UUID, Payload], Payload]
"""(CloudEvents type, event id, tenant id, payload) -> the payload, its sealed fields opened."""


class EnvelopeError(ValueError):
    """A Kafka record that is not a valid credflow CloudEvent."""


@dataclass(frozen=True)
class KafkaRecord:
    """What goes on (or comes off) the wire: key, value and headers."""

    key: bytes
    value: bytes
    headers: Headers


@dataclass(frozen=True)
class Envelope:
    event: Event
    source: str
    tenant_id: UUID
    id: UUID = field(default_factory=uuid7)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    correlation_id: UUID | None = None
    causation_id: UUID | None = None
    aggregate_version: int | None = None
    """The version of the stream `stream_id` after this event (its `ce_streamversion`)."""
    stream_id: str | None = None
    """The event stream that wrote the event, e.g. `credential-<id>`, `review-<id>`: several
    streams write under one key (a credential, its review items, its expiry)."""
    erased: frozenset[str] = frozenset()
    """Personal fields that could not be opened because their person was erased (their value
    in `event` is a placeholder: treat them as absent)."""
    sealed: frozenset[str] = frozenset()
    """Personal fields left sealed (read without keys: `SEALED_PLACEHOLDER` in `event`)."""

    @property
    def type(self) -> str:
        return self.event.ce_type()

    @property
    def subject(self) -> str:
        return self.event.key()

    def to_kafka(self, payload: bytes | None = None) -> KafkaRecord:
        """The record; `payload` replaces the event's JSON (the event with its personal fields
        sealed, `credflow_contracts.personal`)."""
        headers: Headers = [
            ("ce_specversion", SPECVERSION.encode()),
            ("ce_id", str(self.id).encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_time", _format_time(self.time).encode()),
            ("ce_subject", self.subject.encode()),
            ("ce_tenantid", str(self.tenant_id).encode()),
            ("content-type", CONTENT_TYPE.encode()),
        ]
        if self.correlation_id is not None:
            headers.append(("ce_correlationid", str(self.correlation_id).encode()))
        if self.causation_id is not None:
            headers.append(("ce_causationid", str(self.causation_id).encode()))
        if self.aggregate_version is not None:
            version = str(self.aggregate_version).encode()
            headers.append(("ce_aggregateversion", version))
            if self.stream_id is not None:
                headers.append(("ce_streamid", self.stream_id.encode()))
                headers.append(("ce_streamversion", version))
        value = payload if payload is not None else self.event.model_dump_json().encode()
        return KafkaRecord(key=partition_key(self.subject), value=value, headers=headers)

    @classmethod
    def from_kafka(
        cls,
        value: bytes | None,
        headers: Iterable[tuple[str, bytes | None]],
        opener: Opener | None = None,
    ) -> Envelope:
        """Read a record; older event versions are upcast to the current model. With `opener`,
        an event's sealed personal fields are opened before the model reads them (the opener
        may raise, e.g. for keys it has yet to fetch)."""
        attrs = _header_map(headers)
        missing = [
            name
            for name in ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_tenantid")
            if name not in attrs
        ]
        if missing:
            raise EnvelopeError(f"missing CloudEvents headers: {', '.join(missing)}")
        if attrs["ce_specversion"] != SPECVERSION:
            raise EnvelopeError(f"unsupported CloudEvents specversion {attrs['ce_specversion']!r}")
        content_type = attrs.get("content-type", CONTENT_TYPE)
        if content_type.split(";")[0].strip() != CONTENT_TYPE:
            raise EnvelopeError(f"unsupported content-type {content_type!r}")
        if value is None:
            raise EnvelopeError("record has no value")
        try:
            event_id = UUID(attrs["ce_id"])
        except ValueError as exc:
            raise EnvelopeError(f"invalid CloudEvents attribute: {exc}") from exc
        left_sealed: frozenset[str] = frozenset()
        try:
            if personal_fields(attrs["ce_type"]) and (opener is not None or b'"sealed"' in value):
                data = from_json(value)
                if not isinstance(data, dict):
                    raise ValueError("event data must be a JSON object")
                if opener is not None:
                    data = opener(attrs["ce_type"], event_id, _tenant_uuid(attrs["ce_tenantid"]),
                                  data)  # fmt: skip
                else:
                    unopened = open_payload(attrs["ce_type"], event_id, data, lambda _: None,
                                            SEALED_PLACEHOLDER, copy=False)  # fmt: skip
                    data, left_sealed = unopened.payload, frozenset(unopened.erased)
                event = read_event(attrs["ce_type"], data)
            else:
                event = read_event_json(attrs["ce_type"], value)
        except ValidationError as exc:
            raise EnvelopeError(
                f"{attrs['ce_type']} payload does not match its schema: {exc}"
            ) from exc
        except ValueError as exc:  # not JSON, or not an object
            raise EnvelopeError(f"value is not a JSON object: {exc}") from exc
        try:
            return cls(
                event=event,
                source=attrs["ce_source"],
                tenant_id=_tenant_uuid(attrs["ce_tenantid"]),
                id=event_id,
                time=_parse_time(attrs["ce_time"]) if "ce_time" in attrs else datetime.now(UTC),
                correlation_id=_optional_uuid(attrs.get("ce_correlationid")),
                causation_id=_optional_uuid(attrs.get("ce_causationid")),
                aggregate_version=_stream_version(attrs),
                stream_id=attrs.get("ce_streamid"),
                sealed=left_sealed,
            )
        except ValueError as exc:
            raise EnvelopeError(f"invalid CloudEvents attribute: {exc}") from exc


def _stream_version(attrs: dict[str, str]) -> int | None:
    raw = attrs.get("ce_streamversion", attrs.get("ce_aggregateversion"))
    return int(raw) if raw is not None else None


@functools.lru_cache(maxsize=4096)
def _tenant_uuid(value: str) -> UUID:
    """Tenant ids repeat on every record of a tenant: parse each once."""
    return UUID(value)


def _header_map(headers: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, raw in headers:
        if raw is None:
            continue
        out[name.lower()] = raw.decode("utf-8")
    return out


def _format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"ce_time {value!r} has no UTC offset")
    return parsed.astimezone(UTC)


def _optional_uuid(value: str | None) -> UUID | None:
    return UUID(value) if value else None


def header(headers: Sequence[tuple[str, bytes | None]], name: str) -> str | None:
    """The value of one header, decoded; None when absent."""
    for key, raw in headers:
        if key.lower() == name and raw is not None:
            return raw.decode("utf-8")
    return None
