"""The consumer runtime against real PostgreSQL and Kafka: exactly-once effects across a
SIGKILL mid-batch, dead letters and their re-drive, skipped records, read-your-writes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common.consumer import (
    ConsumerRunner,
    ConsumerSettings,
    ConsumerSpec,
    Delivery,
    types_of,
)
from credflow_common.db import schema_pool
from credflow_common.dlq import read_dead_letters
from credflow_common.eventstore import EventStore, Metadata, RecordedEvent
from credflow_common.kafka import topic_partitions
from credflow_common.metrics import ConsumerMetrics
from credflow_common.migrations import migrate
from credflow_common.positions import wait_until_applied
from credflow_common.relay import OutboxRelay, outbox_pending
from credflow_contracts.events.credentials import CredentialSubmitted, CredentialValidated
from credflow_contracts.ids import uuid7
from credflow_contracts.topics import dlq_topic
from tests.factories import ORG, credential_submitted
from tests.infrastructure import Infrastructure
from tests.integration.runtime_support import create_model, spec
from tests.polling import eventually, running

pytestmark = pytest.mark.integration
Pool = AsyncConnectionPool[AsyncConnection[Any]]
FAST_RETRIES = ConsumerSettings(max_batch=500, retry_backoff_s=0.01, max_retries=3)


async def publish(
    infra: Infrastructure, database_url: str, pool: Pool, prefix: str, notes: list[str | None]
) -> list[RecordedEvent]:
    """Append one credential per entry of `notes` and relay them all to Kafka."""
    store = EventStore("svc", "/credflow/test", topic_prefix=prefix)
    recorded: list[RecordedEvent] = []
    async with pool.connection() as conn:
        for chunk in range(0, len(notes), 500):
            async with conn.transaction():
                for note in notes[chunk : chunk + 500]:
                    event = credential_submitted(notes=note)
                    recorded += await store.append(
                        conn, f"credential-{event.credential_id}", 0, [event], Metadata(ORG)
                    )
    relay = OutboxRelay(database_url, "svc", infra.kafka_bootstrap_servers)
    task = asyncio.create_task(relay.run())

    async def drained() -> bool:
        async with pool.connection() as conn:
            return await outbox_pending(conn) == 0

    await eventually(drained)
    relay.stop()
    await task
    return recorded


async def rows(pool: Pool, query: str) -> list[tuple[Any, ...]]:
    async with pool.connection() as conn:
        cursor = await conn.execute(query)
        return await cursor.fetchall()


@pytest.fixture
async def other_pool(database_url: str) -> AsyncIterator[Pool]:
    """A second service schema in the same database (another consumer's read model)."""
    await migrate(database_url, "other")
    pool = schema_pool(database_url, "other")
    await pool.open()
    async with pool.connection() as conn:
        await create_model(conn)
    yield pool
    await pool.close()


async def end_offsets(bootstrap: str, topic: str) -> dict[tuple[str, int], int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await topic_partitions(bootstrap, topic)]
        ends = await consumer.end_offsets(tps)
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def positions(pool: Pool, consumer: str) -> dict[tuple[str, int], int]:
    query = "SELECT topic, partition, next_offset FROM consumer_positions WHERE consumer = "
    found = await rows(pool, f"{query} '{consumer}'")
    return {(t, p): o for t, p, o in found}


def consumer_process(
    infra: Infrastructure, database_url: str, topic: str, failpoints: str = ""
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "CREDFLOW_FAILPOINTS": failpoints,
    }
    return subprocess.Popen(
        [
            sys.executable, "-m", "tests.integration.runtime_support", "consume",
            "--schema", "svc", "--consumer", "projector", "--topic", topic, "--max-batch", "400",
        ],
        env=env,
    )  # fmt: skip


async def test_consumer_killed_mid_batch_resumes_and_matches_a_clean_run(
    infra: Infrastructure, database_url: str, pool: Pool, other_pool: Pool,
    credentials_topic: str, topic_prefix: str,
) -> None:  # fmt: skip
    await publish(infra, database_url, pool, topic_prefix, [None] * 3000)
    ends = await end_offsets(infra.kafka_bootstrap_servers, credentials_topic)
    assert sum(ends.values()) == 3000

    # Dies on its third transaction, after the handler wrote that batch's effects.
    crashing = consumer_process(infra, database_url, credentials_topic, "consumer.before_commit@3")
    assert await asyncio.to_thread(crashing.wait, 90) == -signal.SIGKILL
    committed = await positions(pool, "projector")
    applied = (await rows(pool, "SELECT coalesce(sum(credentials), 0) FROM holder_totals"))[0][0]
    assert 0 < applied < 3000, "two batches committed, the third rolled back"
    assert applied == sum(committed.values()), "effects and positions committed together"

    restarted = consumer_process(infra, database_url, credentials_topic)
    try:
        await eventually(lambda: positions_reached(pool, "projector", ends))
    finally:
        restarted.send_signal(signal.SIGTERM)
        await asyncio.to_thread(restarted.wait, 30)

    clean = ConsumerRunner(
        spec("clean-run", [credentials_topic]), other_pool, infra.kafka_bootstrap_servers
    )
    async with running(clean):
        await eventually(lambda: positions_reached(other_pool, "clean-run", ends))

    for table in ("holder_totals", "credential_rows"):
        query = f"SELECT * FROM {table} ORDER BY 1"  # noqa: S608 - fixed names
        survived, reference = await rows(pool, query), await rows(other_pool, query)
        assert len(reference) == 3000
        assert survived == reference, f"{table} differs from a clean run"


async def positions_reached(pool: Pool, consumer: str, ends: dict[tuple[str, int], int]) -> bool:
    reached = await positions(pool, consumer)
    return all(reached.get(tp, 0) >= end for tp, end in ends.items())


async def test_poison_goes_to_the_dlq_the_consumer_moves_on_and_redrive_applies_it_once(
    infra: Infrastructure, database_url: str, pool: Pool, other_pool: Pool,
    credentials_topic: str, topic_prefix: str,
) -> None:  # fmt: skip
    notes: list[str | None] = [None] * 5 + ["poison"] + [None] * 5
    recorded = await publish(infra, database_url, pool, topic_prefix, notes)
    poison = recorded[5]
    ends = await end_offsets(infra.kafka_bootstrap_servers, credentials_topic)

    registry = CollectorRegistry()
    runner = ConsumerRunner(
        spec("projector", [credentials_topic]), pool, infra.kafka_bootstrap_servers,
        ConsumerMetrics.register(registry), settings=FAST_RETRIES,
    )  # fmt: skip
    async with pool.connection() as conn:
        await conn.execute("INSERT INTO fixes VALUES ('poison')")  # the bystander is fine
    bystander = ConsumerRunner(
        spec("bystander", [credentials_topic]), other_pool, infra.kafka_bootstrap_servers
    )
    async with other_pool.connection() as conn:
        await conn.execute("INSERT INTO fixes VALUES ('poison')")
    async with pool.connection() as conn:
        await conn.execute("DELETE FROM fixes")  # ...but the projector is not, yet

    async with running(runner), running(bystander):
        await eventually(lambda: positions_reached(pool, "projector", ends))
        assert (await rows(pool, "SELECT count(*) FROM holder_totals"))[0][0] == 10

        letters = await read_dead_letters(
            infra.kafka_bootstrap_servers, dlq_topic(credentials_topic)
        )
        assert len(letters) == 1
        [letter] = letters
        assert letter.consumer == "projector"
        assert letter.source_topic == credentials_topic
        assert letter.event_id == str(poison.event_id)
        assert (letter.source_topic, letter.source_partition) in ends
        assert letter.source_offset >= 0
        assert "cannot apply poison credential" in letter.error
        assert letter.failed_at

        cli_env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers}
        listing = await run_cli(["dlq", "list", dlq_topic(credentials_topic)], cli_env)
        assert f" {letter.partition}:{letter.offset} " in listing
        assert "cannot apply poison" in listing
        assert "projector" in listing

        async with pool.connection() as conn:
            await conn.execute("INSERT INTO fixes VALUES ('poison')")  # the fix is deployed
        for _ in range(2):  # an operator re-drives it twice
            output = await run_cli(["dlq", "redrive", dlq_topic(credentials_topic)], cli_env)
            assert "1 dead letter(s) re-driven" in output

        ends_after = await end_offsets(infra.kafka_bootstrap_servers, credentials_topic)
        assert sum(ends_after.values()) == sum(ends.values()) + 2
        await eventually(lambda: positions_reached(pool, "projector", ends_after))
        await eventually(lambda: positions_reached(other_pool, "bystander", ends_after))

    def metric(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"consumer": "projector", **labels})

    topic = {"topic": credentials_topic}
    assert metric("credflow_consumer_dead_lettered_total", **topic) == 1
    assert metric("credflow_consumer_processed_total", **topic) == 11
    assert (metric("credflow_consumer_failed_total") or 0) >= FAST_RETRIES.max_retries
    assert metric("credflow_consumer_skipped_total", **topic, reason="duplicate") == 1
    holder = str(poison.event.model_dump()["holder_id"])
    query = f"SELECT credentials FROM holder_totals WHERE holder_id = '{holder}'"  # noqa: S608
    assert await rows(pool, query) == [(1,)], "applied exactly once after two re-drives"
    assert (await rows(pool, "SELECT sum(credentials) FROM holder_totals"))[0][0] == 11
    assert await rows(other_pool, query) == [(1,)], "other consumers ignore re-driven records"
    assert (await rows(other_pool, "SELECT sum(credentials) FROM holder_totals"))[0][0] == 11


async def run_cli(args: list[str], env: dict[str, str]) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "credflow", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await proc.communicate()
    assert proc.returncode == 0, output.decode()
    return output.decode()


async def test_malformed_records_are_dead_lettered_and_unknown_types_skipped(
    infra: Infrastructure, database_url: str, pool: Pool, credentials_topic: str,
    topic_prefix: str,
) -> None:  # fmt: skip
    good = await publish(infra, database_url, pool, topic_prefix, [None])
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await producer.start()
    await producer.send_and_wait(credentials_topic, b"not json at all", key=b"k")
    await producer.send_and_wait(
        credentials_topic, b"{}", key=b"k",
        headers=[("ce_specversion", b"1.0"), ("ce_id", str(uuid7()).encode()),
                 ("ce_source", b"/future"), ("ce_type", b"credflow.credential.teleported.v1"),
                 ("ce_tenantid", str(ORG).encode())],
    )  # fmt: skip
    await producer.stop()
    later = await publish(infra, database_url, pool, topic_prefix, [None])
    ends = await end_offsets(infra.kafka_bootstrap_servers, credentials_topic)

    runner = ConsumerRunner(
        spec("projector", [credentials_topic]), pool, infra.kafka_bootstrap_servers
    )
    async with running(runner):
        await eventually(lambda: positions_reached(pool, "projector", ends))
    assert (await rows(pool, "SELECT sum(credentials) FROM holder_totals"))[0][0] == 2
    letters = await read_dead_letters(infra.kafka_bootstrap_servers, dlq_topic(credentials_topic))
    assert [letter.value for letter in letters] == [b"not json at all"]
    assert "missing CloudEvents headers" in letters[0].error
    assert good[0].event_id != later[0].event_id


async def test_read_your_writes_waits_for_the_consumer(
    infra: Infrastructure, database_url: str, pool: Pool, credentials_topic: str,
    topic_prefix: str,
) -> None:  # fmt: skip
    recorded = await publish(infra, database_url, pool, topic_prefix, [None, None])
    assert not await wait_until_applied(pool, "projector", recorded[-1].event_id, timeout_s=0.2)
    runner = ConsumerRunner(
        spec("projector", [credentials_topic]), pool, infra.kafka_bootstrap_servers
    )
    async with running(runner):
        assert await wait_until_applied(pool, "projector", recorded[-1].event_id, timeout_s=60)
        assert (await rows(pool, "SELECT count(*) FROM holder_totals"))[0][0] >= 1


async def test_a_consumer_of_some_event_types_skips_the_others_but_moves_past_them(
    infra: Infrastructure, database_url: str, pool: Pool, credentials_topic: str,
    topic_prefix: str,
) -> None:  # fmt: skip
    await publish(infra, database_url, pool, topic_prefix, [None, None, None])
    ends = await end_offsets(infra.kafka_bootstrap_servers, credentials_topic)
    seen: list[str] = []

    async def record(conn: AsyncConnection[Any], deliveries: Sequence[Delivery]) -> None:
        seen.extend(d.envelope.type for d in deliveries)

    uninterested = ConsumerSpec(
        "uninterested", [credentials_topic], record, event_types=types_of(CredentialValidated)
    )
    interested = ConsumerSpec(
        "interested", [credentials_topic], record, event_types=types_of(CredentialSubmitted)
    )
    async with running(ConsumerRunner(uninterested, pool, infra.kafka_bootstrap_servers)):
        await eventually(lambda: positions_reached(pool, "uninterested", ends))
    assert seen == [], "nothing of another type reaches the handler"
    async with running(ConsumerRunner(interested, pool, infra.kafka_bootstrap_servers)):
        await eventually(lambda: positions_reached(pool, "interested", ends))
    assert seen == [CredentialSubmitted.ce_type()] * 3


async def test_the_pruned_inbox_still_drops_a_relay_repeat_by_stream_positions(
    infra: Infrastructure, database_url: str, pool: Pool, credentials_topic: str,
    topic_prefix: str,
) -> None:  # fmt: skip
    recorded = await publish(infra, database_url, pool, topic_prefix, [None, None, None])
    ends = await end_offsets(infra.kafka_bootstrap_servers, credentials_topic)
    registry = CollectorRegistry()
    runner = ConsumerRunner(
        spec("projector", [credentials_topic]), pool, infra.kafka_bootstrap_servers,
        ConsumerMetrics.register(registry),
        # every id is out of the window at once, and the runner prunes at every turn
        settings=ConsumerSettings(inbox_retention=timedelta(0), inbox_prune_every_s=0.1),
    )  # fmt: skip
    async with running(runner):
        await eventually(lambda: positions_reached(pool, "projector", ends))
        await eventually(lambda: inbox_size(pool, "projector", 0))  # pruned by the runner

        # The relay publishes the same three records again (it died before deleting them).
        repeats = await read_records(infra.kafka_bootstrap_servers, credentials_topic)
        assert {header(r, "ce_id") for r in repeats} == {str(e.event_id) for e in recorded}
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers)
        await producer.start()
        for record in repeats:
            await producer.send_and_wait(credentials_topic, record.value, key=record.key,
                                         headers=list(record.headers))  # fmt: skip
        await producer.stop()
        ends_after = await end_offsets(infra.kafka_bootstrap_servers, credentials_topic)
        assert sum(ends_after.values()) == 6
        await eventually(lambda: positions_reached(pool, "projector", ends_after))

    assert (await rows(pool, "SELECT sum(credentials) FROM holder_totals"))[0][0] == 3
    skipped = registry.get_sample_value(
        "credflow_consumer_skipped_total",
        {"consumer": "projector", "topic": credentials_topic, "reason": "duplicate"},
    )
    assert skipped == 3
    dead = registry.get_sample_value(
        "credflow_consumer_dead_lettered_total",
        {"consumer": "projector", "topic": credentials_topic},
    )
    assert dead is None, "the repeats were dropped, not failed"
    streams = await rows(pool, "SELECT stream_id, version FROM consumer_streams"
                               " WHERE consumer = 'projector' ORDER BY 1")  # fmt: skip
    assert streams == sorted((f"credential-{e.event.credential_id}", 1) for e in recorded)  # type: ignore[attr-defined]


async def inbox_size(pool: Pool, consumer: str, expected: int) -> bool:
    query = f"SELECT count(*) FROM consumer_inbox WHERE consumer = '{consumer}'"  # noqa: S608
    return bool((await rows(pool, query))[0][0] == expected)


async def read_records(bootstrap: str, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=5000)
        return [record for records in batch.values() for record in records]
    finally:
        await consumer.stop()


def header(record: Any, name: str) -> str:
    return str(next(value.decode() for key, value in record.headers if key == name))
