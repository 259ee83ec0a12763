"""Journey 7 (runs after the others): the outside subscriber, written only against the
contracts package, read every event the journeys caused. Checked against a raw read of the same
topics that knows nothing of the contracts: the same records, per organisation, and each one a
typed event."""

from __future__ import annotations

import collections

from aiokafka import AIOKafkaConsumer, TopicPartition

from credflow_common.kafka import topic_partitions
from credflow_contracts.envelope import SEALED_PLACEHOLDER as SEALED
from credflow_contracts.events.credentials import CredentialRejected
from credflow_contracts.events.directory import UserCreated
from credflow_contracts.topics import PUBLIC_TOPICS
from tests.e2e.journeys.conftest import Journeys
from tests.polling import eventually

EXPECTED_TYPES = {
    "OrganisationCreated", "UserCreated", "CompanyCreated", "CredentialTypeCreated",
    "RequirementAdded", "CredentialSubmitted", "ReviewRequested", "ReviewClaimed",
    "CredentialValidated", "CredentialRejected", "VersionAdded", "CredentialAccepted",
    "MediaRemoved", "CredentialExpired", "ReminderSent", "GroupCreated", "GroupUpdated",
}  # fmt: skip


async def raw_counts(journeys: Journeys) -> collections.Counter[str]:
    """Records per `ce_tenantid` header on the public topics, read without the contracts."""
    prefix = journeys.system.env["CREDFLOW_TOPIC_PREFIX"]
    bootstrap = journeys.system.env["KAFKA_BOOTSTRAP_SERVERS"]
    partitions = [
        TopicPartition(prefix + topic, partition)
        for topic in PUBLIC_TOPICS
        for partition in await topic_partitions(bootstrap, prefix + topic)
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    counts: collections.Counter[str] = collections.Counter()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    tenant = dict(record.headers).get("ce_tenantid", b"").decode()
                    counts[tenant] += 1
    finally:
        await consumer.stop()
    return counts


async def test_the_outside_subscriber_read_every_event_of_the_journeys(
    journeys: Journeys,
) -> None:
    assert journeys.tenants, "the journeys before this one created organisations"
    raw = await raw_counts(journeys)

    async def caught_up() -> bool:
        read = collections.Counter(str(e.tenant_id) for e in journeys.subscriber.received)
        return all(read[str(t.id)] >= raw[str(t.id)] for t in journeys.tenants)

    await eventually(caught_up, timeout_s=30)
    assert journeys.subscriber.unreadable == []
    for tenant in journeys.tenants:
        read = journeys.subscriber.of(tenant.id)
        assert len(read) == raw[str(tenant.id)], "every record, none twice"
    types = {type(e.event).__name__ for t in journeys.tenants for e in journeys.subscriber.of(t.id)}
    assert types >= EXPECTED_TYPES, EXPECTED_TYPES - types

    # Without platform:personal-data it read ids, dates, statuses and types, and no personal
    # field: names, emails, numbers and comments came sealed.
    people = [e for t in journeys.tenants for e in journeys.subscriber.of(t.id, UserCreated)]
    assert people
    assert {e.event.user.name for e in people if isinstance(e.event, UserCreated)} == {SEALED}
    assert all({"user.name", "user.email"} <= e.sealed for e in people)
    decided = [e.event for t in journeys.tenants
               for e in journeys.subscriber.of(t.id, CredentialRejected)]  # fmt: skip
    assert decided
    assert {d.comment for d in decided if isinstance(d, CredentialRejected)} == {SEALED}
