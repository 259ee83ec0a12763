"""Reading back what landed on a Kafka topic, for assertions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from credflow_common.kafka import topic_partitions
from credflow_contracts.envelope import Envelope


@dataclass(frozen=True)
class Landed:
    partition: int
    offset: int
    key: bytes
    envelope: Envelope
    headers: dict[str, str]


async def read_topic(
    bootstrap: str, topic: str, expect_at_least: int, timeout_s: float = 60
) -> list[Landed]:
    """Every record on `topic` once at least `expect_at_least` are there (then drain the rest)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await topic_partitions(bootstrap, topic)
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        landed: list[Landed] = []
        async with asyncio.timeout(timeout_s):
            while True:
                batch = await consumer.getmany(timeout_ms=300)
                for records in batch.values():
                    for r in records:
                        landed.append(
                            Landed(
                                r.partition, r.offset, r.key,
                                Envelope.from_kafka(r.value, r.headers),
                                {k: v.decode() for k, v in r.headers},
                            )
                        )  # fmt: skip
                if not batch and len(landed) >= expect_at_least:
                    return sorted(landed, key=lambda x: (x.partition, x.offset))
    finally:
        await consumer.stop()
