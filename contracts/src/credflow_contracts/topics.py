"""Topic names, the partition key, and dead-letter naming: the one place they are defined."""

from __future__ import annotations

CREDENTIALS = "credflow.credentials"
DIRECTORY = "credflow.directory"
IMPORTS = "credflow.imports"
REMINDERS = "credflow.reminders"
SUBMISSION_COMMANDS = "credflow.submission.commands"
ERASURES = "credflow.erasures"

PUBLIC_TOPICS: tuple[str, ...] = (CREDENTIALS, DIRECTORY, IMPORTS, REMINDERS)
"""Topics other services may subscribe to. Kept forever (retention.ms=-1)."""

ALL_TOPICS: tuple[str, ...] = (*PUBLIC_TOPICS, SUBMISSION_COMMANDS, ERASURES)

DLQ_SUFFIX = ".dlq"


def dlq_topic(topic: str) -> str:
    """The dead-letter topic for records that keep failing on `topic`."""
    if topic.endswith(DLQ_SUFFIX):
        raise ValueError(f"{topic!r} is already a dead-letter topic")
    return topic + DLQ_SUFFIX


def partition_key(aggregate_id: str) -> bytes:
    """Kafka key for an event: its aggregate id, so one aggregate's events stay in order."""
    if not aggregate_id:
        raise ValueError("aggregate id must not be empty")
    return aggregate_id.encode("utf-8")
