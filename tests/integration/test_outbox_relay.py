"""The outbox relay against real PostgreSQL and Kafka: order, leadership, crash safety."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common.consumer import ConsumerRunner
from credflow_common.eventstore import EventStore, Metadata
from credflow_common.relay import OutboxRelay, outbox_pending
from tests.e2e.system import free_port
from tests.factories import ORG, credential_submitted
from tests.infrastructure import Infrastructure
from tests.integration.kafka_support import Landed, read_topic
from tests.integration.runtime_support import spec
from tests.polling import eventually, running

pytestmark = pytest.mark.integration
Pool = AsyncConnectionPool[AsyncConnection[Any]]


async def write_streams(
    pool: Pool, prefix: str, streams: int, per_stream: int
) -> dict[str, list[UUID]]:
    """Append `per_stream` events to each of `streams` credentials; returns event ids by key."""
    store = EventStore("svc", "/credflow/test", topic_prefix=prefix)
    written: dict[str, list[UUID]] = defaultdict(list)
    keys = [credential_submitted().credential_id for _ in range(streams)]
    for version in range(per_stream):
        for credential_id in keys:
            async with pool.connection() as conn, conn.transaction():
                event = credential_submitted(credential_id=credential_id)
                [recorded] = await store.append(
                    conn, f"credential-{credential_id}", version, [event], Metadata(ORG)
                )
                written[str(credential_id)].append(recorded.event_id)
    return written


def first_occurrences_by_key(landed: list[Landed]) -> dict[str, list[UUID]]:
    seen: set[UUID] = set()
    order: dict[str, list[UUID]] = defaultdict(list)
    for record in landed:  # sorted by (partition, offset): per-key order is offset order
        if record.envelope.id not in seen:
            seen.add(record.envelope.id)
            order[record.key.decode()].append(record.envelope.id)
    return order


def leads(relay: OutboxRelay) -> bool:
    return relay.is_leader


def relay_process(
    infra: Infrastructure, database_url: str, failpoints: str = ""
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "CREDFLOW_FAILPOINTS": failpoints,
        "RELAY_BATCH_SIZE": "50",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.runtime_support", "relay", "--schema", "svc"],
        env=env,
    )


async def test_relay_publishes_in_order_per_key_with_cloudevents_headers(
    infra: Infrastructure, pool: Pool, database_url: str, credentials_topic: str, topic_prefix: str
) -> None:
    written = await write_streams(pool, topic_prefix, streams=8, per_stream=5)
    relay = OutboxRelay(database_url, "svc", infra.kafka_bootstrap_servers, batch_size=7)
    async with running(relay):
        landed = await read_topic(infra.kafka_bootstrap_servers, credentials_topic, 40)
    assert len(landed) == 40, "each event once"
    assert first_occurrences_by_key(landed) == written
    for record in landed:
        assert record.headers["ce_subject"] == record.key.decode()
        assert record.headers["ce_tenantid"] == str(ORG)
        assert record.headers["content-type"] == "application/json"
    async with pool.connection() as conn:
        assert await outbox_pending(conn) == 0, "published rows are deleted"


async def test_relay_wakes_on_notify_within_milliseconds(
    infra: Infrastructure, pool: Pool, database_url: str, credentials_topic: str, topic_prefix: str
) -> None:
    relay = OutboxRelay(
        database_url, "svc", infra.kafka_bootstrap_servers, poll_interval_s=30
    )  # a 30 s fallback: only NOTIFY can make this fast
    async with running(relay):
        await eventually(lambda: asyncio.sleep(0, relay.is_leader))
        await asyncio.sleep(0.5)  # the relay is now waiting for a notification
        loop = asyncio.get_running_loop()
        started = loop.time()
        await write_streams(pool, topic_prefix, streams=1, per_stream=1)

        async def drained() -> bool:
            async with pool.connection() as conn:
                return await outbox_pending(conn) == 0

        await eventually(drained, timeout_s=10)
        assert loop.time() - started < 5


async def test_two_relays_at_once_publish_each_event_once(
    infra: Infrastructure, pool: Pool, database_url: str, credentials_topic: str, topic_prefix: str
) -> None:
    written = await write_streams(pool, topic_prefix, streams=10, per_stream=10)
    first = OutboxRelay(database_url, "svc", infra.kafka_bootstrap_servers, batch_size=10)
    second = OutboxRelay(database_url, "svc", infra.kafka_bootstrap_servers, batch_size=10)
    async with running(first), running(second):
        landed = await read_topic(infra.kafka_bootstrap_servers, credentials_topic, 100)
        assert sorted([first.is_leader, second.is_leader]) == [False, True]
    assert len(landed) == 100
    assert len({r.envelope.id for r in landed}) == 100
    assert first_occurrences_by_key(landed) == written


async def test_a_leader_that_lost_the_broker_and_then_its_leadership_is_ready_as_a_standby(
    infra: Infrastructure, pool: Pool, database_url: str, credentials_topic: str, topic_prefix: str
) -> None:
    """A relay whose broker went away lets go of the lock while it waits; another instance
    takes over. Waiting as a standby needs only the database: the outage is over for it (it
    reported one to /ready for as long as the other instance led)."""
    cut_off = OutboxRelay(database_url, "svc", f"127.0.0.1:{free_port()}", leader_retry_s=0.2)
    healthy = OutboxRelay(database_url, "svc", infra.kafka_bootstrap_servers, leader_retry_s=0.2)
    async with running(cut_off):
        await eventually(lambda: asyncio.sleep(0, cut_off.outage.current is not None))
        async with running(healthy):
            await eventually(lambda: asyncio.sleep(0, healthy.is_leader), timeout_s=30)
            await eventually(lambda: asyncio.sleep(0, cut_off.outage.current is None))
            written = await write_streams(pool, topic_prefix, streams=2, per_stream=2)
            landed = await read_topic(infra.kafka_bootstrap_servers, credentials_topic, 4)
            assert not cut_off.is_leader
    assert {r.envelope.id for r in landed} == {i for ids in written.values() for i in ids}


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def test_a_waiting_relay_takes_over_when_the_leader_dies(
    infra: Infrastructure, pool: Pool, database_url: str, credentials_topic: str,
    topic_prefix: str, processes: list[subprocess.Popen[bytes]],
) -> None:  # fmt: skip
    leader = relay_process(infra, database_url)
    processes.append(leader)
    first_batch = await write_streams(pool, topic_prefix, streams=3, per_stream=2)
    await read_topic(infra.kafka_bootstrap_servers, credentials_topic, 6)

    standby = OutboxRelay(database_url, "svc", infra.kafka_bootstrap_servers, leader_retry_s=0.2)
    async with running(standby):
        await asyncio.sleep(1)
        assert not leads(standby), "the subprocess holds the lock"
        leader.send_signal(signal.SIGKILL)
        leader.wait()
        second_batch = await write_streams(pool, topic_prefix, streams=3, per_stream=2)
        landed = await read_topic(infra.kafka_bootstrap_servers, credentials_topic, 12)
        assert leads(standby)
    assert {r.envelope.id for r in landed} == {
        event_id for ids in (*first_batch.values(), *second_batch.values()) for event_id in ids
    }


async def test_relay_killed_between_publish_and_delete_loses_nothing_and_keeps_key_order(
    infra: Infrastructure, pool: Pool, database_url: str, credentials_topic: str,
    topic_prefix: str, processes: list[subprocess.Popen[bytes]],
) -> None:  # fmt: skip
    written = await write_streams(pool, topic_prefix, streams=12, per_stream=10)  # 120 events

    crashing = relay_process(infra, database_url, failpoints="relay.after_publish")
    processes.append(crashing)
    assert await asyncio.to_thread(crashing.wait, 60) == -signal.SIGKILL
    async with pool.connection() as conn:
        assert await outbox_pending(conn) == 120, "killed before deleting its first batch"
    published_before_crash = await read_topic(infra.kafka_bootstrap_servers, credentials_topic, 50)
    assert len(published_before_crash) == 50

    processes.append(relay_process(infra, database_url))
    landed = await read_topic(infra.kafka_bootstrap_servers, credentials_topic, 170)

    assert len(landed) == 170, "the first batch again, then the rest"
    assert first_occurrences_by_key(landed) == written
    repeats = len(landed) - len({r.envelope.id for r in landed})
    assert repeats == 50

    # A consumer absorbs the repeats: each credential is counted once.
    runner = ConsumerRunner(
        spec("absorber", [credentials_topic]), pool, infra.kafka_bootstrap_servers
    )
    task = asyncio.create_task(runner.run())

    async def all_applied() -> bool:
        async with pool.connection() as conn:
            cursor = await conn.execute("SELECT count(*), sum(credentials) FROM holder_totals")
            row = await cursor.fetchone()
            return row is not None and row[0] == 120

    try:
        await eventually(all_applied)
        async with pool.connection() as conn:
            cursor = await conn.execute("SELECT count(*), sum(credentials) FROM holder_totals")
            assert await cursor.fetchone() == (120, 120)
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)
