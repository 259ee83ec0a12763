"""What a consumer reads and what its handler is handed: Kafka records and deliveries, and the
headers that dead-lettering and re-driving put on records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import structlog

from credflow_contracts.envelope import Envelope

StreamKey = tuple[str, str, str, int]  # (ce_source, ce_streamid, topic, partition)

REDRIVE_CONSUMER_HEADER = "credflow-redrive-consumer"
REDRIVE_OF_HEADER = "credflow-redrive-of"
DLQ_HEADERS = (
    "dlq-source-topic",
    "dlq-source-partition",
    "dlq-source-offset",
    "dlq-consumer",
    "dlq-error",
    "dlq-failed-at",
)


class Record(Protocol):
    """The parts of an aiokafka ConsumerRecord the runtime uses."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True)
class Delivery:
    """One event handed to a handler, with where it came from."""

    envelope: Envelope
    topic: str
    partition: int
    offset: int
    redriven: bool = False  # a dead letter sent back to this consumer

    @property
    def event_id(self) -> UUID:
        return self.envelope.id

    @property
    def stream(self) -> StreamKey | None:
        """(source, stream, topic, partition): where this event's stream version is in order
        (`inbox.py`); None for an event without a stream version."""
        envelope = self.envelope
        if envelope.stream_id is None or envelope.aggregate_version is None:
            return None
        return envelope.source, envelope.stream_id, self.topic, self.partition

    def bind_log_context(self) -> None:
        """Bind this event's tenant, correlation and causation ids to every log line that
        follows (handlers call it per event; the runtime does for single records)."""
        envelope = self.envelope
        structlog.contextvars.bind_contextvars(
            tenant_id=str(envelope.tenant_id),
            event_id=str(envelope.id),
            event_type=envelope.type,
            correlation_id=str(envelope.correlation_id) if envelope.correlation_id else None,
            causation_id=str(envelope.causation_id) if envelope.causation_id else None,
        )
