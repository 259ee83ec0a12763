"""An outside service: it knows nothing of credflow but the contracts package (events,
envelope, topic names) and a Kafka client. It reads every public topic from the beginning, as
a rostering or HR system would, and keeps what it read.

Imports here stay limited to `credflow_contracts` and `aiokafka`: this is the whole of what a
subscriber needs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from uuid import UUID

from aiokafka import AIOKafkaConsumer

from credflow_contracts.envelope import Envelope, EnvelopeError
from credflow_contracts.topics import PUBLIC_TOPICS


@dataclass
class Subscriber:
    bootstrap_servers: str
    topic_prefix: str = ""
    received: list[Envelope] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # records the contracts could not read
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            *[self.topic_prefix + topic for topic in PUBLIC_TOPICS],
            bootstrap_servers=self.bootstrap_servers,
            group_id=f"{self.topic_prefix}outside-subscriber",
            auto_offset_reset="earliest",
            metadata_max_age_ms=1000,
        )
        await consumer.start()
        try:
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    for record in records:
                        try:
                            self.received.append(Envelope.from_kafka(record.value, record.headers))
                        except (EnvelopeError, ValueError) as exc:
                            self.unreadable.append(f"{record.topic}@{record.offset}: {exc}")
        finally:
            await consumer.stop()

    def stop(self) -> None:
        self._stopping.set()

    def of(self, organisation_id: UUID, *types: type) -> list[Envelope]:
        """What this organisation published, in the order read; only `types` if given."""
        return [
            envelope
            for envelope in self.received
            if envelope.tenant_id == organisation_id
            and (not types or isinstance(envelope.event, types))
        ]
