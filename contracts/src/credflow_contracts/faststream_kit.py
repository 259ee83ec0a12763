"""A typed subscriber kit for FastStream 0.7 (`pip install 'credflow-contracts[faststream]'`).

    subscriber = broker.subscriber(
        Topic("credflow.credentials", declare=False), group_id="rostering",
        auto_offset_reset="earliest", ack_policy=AckPolicy.NACK_ON_ERROR,
    )

    @subscriber(decoder=decode_envelope, filter=EventFilter(event_types={...}))
    async def on_event(envelope: Envelope) -> None: ...      # typed, older versions upcast

    @subscriber(decoder=ignore_body)                         # everything else: skipped
    async def skip() -> None: ...

- `EventFilter` chooses records by their CloudEvents headers alone (tenant, event type, and
  whether this release of the contracts knows the type): the body of a record nobody wants
  is never parsed, and a type added after this release is skipped, as the compatibility
  policy asks.
- `decode_envelope` turns a chosen record into an `Envelope` with its typed event. A record
  that is not a valid credflow event raises `MalformedRecordError`, which names its topic,
  partition and offset; FastStream reports it as a handler error.
- `ignore_body` is the decoder for a catch-all handler: FastStream answers a record that no
  handler's filter takes with an error, and its default decoder would parse the JSON.

See `contracts/examples/faststream_consumer.py` for FastStream's defaults to mind.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from uuid import UUID

from faststream.kafka.message import KafkaMessage

from credflow_contracts.catalogue import BY_CE_TYPE, parse_ce_type
from credflow_contracts.envelope import Envelope, EnvelopeError


class MalformedRecordError(EnvelopeError):
    """A record on a credflow topic that is not a valid credflow CloudEvent."""


class EventFilter:
    """Takes a record when its headers name a known event type of the wanted ones, of a wanted
    organisation. `event_types` are type names without the version
    (`credflow.credential.submitted`); None takes every type, and every organisation."""

    def __init__(
        self,
        event_types: Collection[str] | None = None,
        organisation_ids: Collection[UUID] | None = None,
    ) -> None:
        self.event_types = None if event_types is None else frozenset(event_types)
        self.tenants = None if organisation_ids is None else {str(o) for o in organisation_ids}

    def __call__(self, message: KafkaMessage) -> bool:
        headers = message.headers
        ce_type, tenant = headers.get("ce_type"), headers.get("ce_tenantid")
        if ce_type is None or tenant is None or ce_type not in BY_CE_TYPE:
            return False  # not a credflow event, or a type this release does not know
        if self.event_types is not None and parse_ce_type(ce_type)[0] not in self.event_types:
            return False
        return self.tenants is None or tenant in self.tenants


async def decode_envelope(message: KafkaMessage) -> Envelope:
    """FastStream decoder: the record as an `Envelope`, its event typed (older versions
    upcast to the current model). For single-record subscribers (not `batch=True`)."""
    record = message.raw_message
    if isinstance(record, tuple):
        raise TypeError("decode_envelope reads one record at a time; subscribe without batch")
    try:
        return Envelope.from_kafka(message.body, record.headers)
    except EnvelopeError as exc:
        where = f"{record.topic}:{record.partition}@{record.offset}"
        raise MalformedRecordError(f"not a credflow event at {where}: {exc}") from exc


async def ignore_body(message: KafkaMessage) -> Any:
    """FastStream decoder for a catch-all handler: the body is not read."""
    return None
