"""Small Kafka helpers shared by the runtime and the operator commands."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient

UNKNOWN_TOPIC_OR_PARTITION = 3


class UnknownTopicError(LookupError):
    pass


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
