"""Small Kafka helpers shared by the runtime and the operator commands."""

from __future__ import annotations

from typing import Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

UNKNOWN_TOPIC_OR_PARTITION = 3


class UnknownTopicError(LookupError):
    pass


def batch_consumer(
    bootstrap_servers: str,
    group_id: str | None,
    max_batch: int,
    auto_offset_reset: Literal["earliest", "latest"],
) -> AIOKafkaConsumer:
    """A consumer as the runtime reads: large fetches, no auto-commit (positions live in
    PostgreSQL); `group_id` None reads assigned partitions outside any group."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset=auto_offset_reset,
        max_poll_records=max_batch,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )


def idempotent_producer(bootstrap_servers: str) -> AIOKafkaProducer:
    """A producer whose retries never duplicate or reorder a record (dead letters)."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all",
                            enable_idempotence=True)  # fmt: skip


async def topic_partitions(bootstrap_servers: str, topic: str) -> list[int]:
    """The partition numbers of `topic`, straight from the broker."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if description["error_code"] == UNKNOWN_TOPIC_OR_PARTITION or not description["partitions"]:
        raise UnknownTopicError(f"topic {topic!r} does not exist")
    return sorted(p["partition"] for p in description["partitions"])
