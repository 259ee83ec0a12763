"""Dead-letter topics: write what a consumer keeps failing on, list it, re-drive it after a fix.

Re-driving publishes a dead letter back to its source topic with the header
`credflow-redrive-consumer: <consumer>`: only that consumer applies it (every other consumer
skips it, having applied the original), and its inbox drops it if it was applied already, so
re-driving twice still applies it once. Outside subscribers see the event again with the same
`ce_id`, as at-least-once delivery allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from credflow_common.delivery import (
    DLQ_HEADERS,
    REDRIVE_CONSUMER_HEADER,
    REDRIVE_OF_HEADER,
    Record,
)
from credflow_common.kafka import topic_partitions
from credflow_contracts.envelope import header
from credflow_contracts.topics import DLQ_SUFFIX
from credflow_contracts.topics import dlq_topic as dlq_topic_of

log = structlog.get_logger("credflow.consumer")


@dataclass(frozen=True)
class DeadLetter:
    dlq_topic: str
    partition: int
    offset: int
    source_topic: str
    source_partition: int
    source_offset: int
    consumer: str
    error: str
    failed_at: str
    event_type: str | None
    event_id: str | None
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]

    @property
    def ref(self) -> str:
        return f"{self.dlq_topic}:{self.partition}:{self.offset}"


async def read_dead_letters(bootstrap_servers: str, dlq_topic: str) -> list[DeadLetter]:
    """Every record currently in `dlq_topic`, oldest first per partition."""
    if not dlq_topic.endswith(DLQ_SUFFIX):
        raise ValueError(f"{dlq_topic!r} is not a dead-letter topic (it must end in {DLQ_SUFFIX})")
    partitions = await topic_partitions(bootstrap_servers, dlq_topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(dlq_topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        letters: list[DeadLetter] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    letters.append(_dead_letter(record))
                    if record.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        return sorted(letters, key=lambda d: (d.partition, d.offset))
    finally:
        await consumer.stop()


def _dead_letter(record: Record) -> DeadLetter:
    headers = list(record.headers)
    value = {name: header(headers, name) or "" for name in DLQ_HEADERS}
    return DeadLetter(
        dlq_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        source_topic=value["dlq-source-topic"],
        source_partition=int(value["dlq-source-partition"] or -1),
        source_offset=int(value["dlq-source-offset"] or -1),
        consumer=value["dlq-consumer"],
        error=value["dlq-error"],
        failed_at=value["dlq-failed-at"],
        event_type=header(headers, "ce_type"),
        event_id=header(headers, "ce_id"),
        key=record.key,
        value=record.value,
        headers=headers,
    )


async def redrive(
    bootstrap_servers: str, letters: Sequence[DeadLetter]
) -> list[tuple[DeadLetter, str]]:
    """Publish each dead letter back to its source topic for the consumer that failed on it.

    Returns (letter, where it went) pairs."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    sent = []
    try:
        for letter in letters:
            headers = _without_runtime_headers(letter.headers)
            headers.append((REDRIVE_CONSUMER_HEADER, letter.consumer.encode()))
            headers.append((REDRIVE_OF_HEADER, letter.ref.encode()))
            metadata = await producer.send_and_wait(
                letter.source_topic, value=letter.value, key=letter.key, headers=headers
            )
            sent.append((letter, f"{metadata.topic}:{metadata.partition}:{metadata.offset}"))
    finally:
        await producer.stop()
    return sent


async def write_dead_letter(
    producer: AIOKafkaProducer, record: Record, consumer: str, error: str
) -> str:
    """Publish `record` to its topic's DLQ with headers naming where it came from, which
    consumer failed on it and why; return the DLQ topic."""
    target = dlq_topic_of(record.topic)
    dlq_values = (
        record.topic,
        str(record.partition),
        str(record.offset),
        consumer,
        error[:4000],
        datetime.now(UTC).isoformat(),
    )
    headers = _without_runtime_headers(record.headers)
    headers += [(name, value.encode()) for name, value in zip(DLQ_HEADERS, dlq_values, strict=True)]
    await producer.send_and_wait(target, value=record.value, key=record.key, headers=headers)
    log.error(
        "record dead-lettered", consumer=consumer, topic=record.topic,
        partition=record.partition, offset=record.offset, dlq=target, error=error,
    )  # fmt: skip
    return target


def _without_runtime_headers(headers: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The record's own headers, without what an earlier dead-lettering or re-drive added."""
    return [
        (name, value)
        for name, value in headers
        if name not in DLQ_HEADERS and name not in (REDRIVE_CONSUMER_HEADER, REDRIVE_OF_HEADER)
    ]
