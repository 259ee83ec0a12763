"""deploy/kafka/topics.toml must create exactly the topics the contracts name."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from credflow_contracts import topics

TOPICS_FILE = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "topics.toml"


def declared() -> dict[str, dict[str, str]]:
    spec = tomllib.loads(TOPICS_FILE.read_text())
    return {t["name"]: t.get("config", {}) for t in spec["topic"]}


def test_every_contract_topic_and_its_dead_letter_topic_is_declared() -> None:
    expected = {*topics.ALL_TOPICS, *(topics.dlq_topic(t) for t in topics.ALL_TOPICS)}
    assert set(declared()) == expected


@pytest.mark.parametrize("topic", topics.PUBLIC_TOPICS)
def test_public_topics_keep_events_forever(topic: str) -> None:
    assert declared()[topic]["retention.ms"] == "-1"


def test_dlq_naming() -> None:
    assert topics.dlq_topic("credflow.credentials") == "credflow.credentials.dlq"
    with pytest.raises(ValueError, match="already a dead-letter topic"):
        topics.dlq_topic("credflow.credentials.dlq")


def test_partition_key_is_the_aggregate_id() -> None:
    assert topics.partition_key("0192f6c0-cred") == b"0192f6c0-cred"
    with pytest.raises(ValueError, match="must not be empty"):
        topics.partition_key("")
