"""Several instances of a service, killed at any moment: two processes each of submission,
review and projection share their consumer groups while a 20,000-row import runs, and one of
them, chosen at random, is killed (SIGKILL) 3 s after finish and then every
`CHAOS_KILL_EVERY_S` seconds (5: the import takes 15 to 20 s here), and started again, as an
orchestrator would. Afterwards: exactly one credential per row, no dead letter,
every instance ready, and the live views equal a rebuild row for row."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.bench.imports import ROWS
from tests.e2e.system import System, running_system
from tests.e2e.test_bulk_import import (
    all_visible_and_completed,
    credentials_of,
    finish,
    import_state,
    uploaded,
)
from tests.infrastructure import Infrastructure
from tests.integration.projection.test_rebuild import snapshot

pytestmark = pytest.mark.chaos
DOUBLED = ("submission", "review", "projection")
SERVICES = ("directory", "importer", *DOUBLED, *(f"{name}@2" for name in DOUBLED))
KILL_EVERY_S = float(os.environ.get("CHAOS_KILL_EVERY_S", "5"))
FIRST_KILL_S = 3.0  # mid-import: every row sent, few applied yet
DEADLINE_S = float(os.environ.get("CHAOS_DEADLINE_S", "600"))
SEED = int(os.environ.get("CHAOS_SEED", str(int(time.time()))))


@pytest.fixture
async def system(infra: Infrastructure, database_url: str, unique: str) -> AsyncIterator[System]:
    async with running_system(infra, database_url, f"c{unique}.", SERVICES) as running:
        yield running


async def log_extent(system: System) -> tuple[int, int]:
    """(records in every topic of this run, records in its dead-letter topics)."""
    bootstrap, prefix = system.env["KAFKA_BOOTSTRAP_SERVERS"], system.env["CREDFLOW_TOPIC_PREFIX"]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        topics = [t for t in await consumer.topics() if t.startswith(prefix)]
        partitions = [
            TopicPartition(topic, p) for topic in topics
            for p in consumer.partitions_for_topic(topic) or ()
        ]  # fmt: skip
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return (sum(ends.values()),
            sum(end for tp, end in ends.items() if tp.topic.endswith(".dlq")))  # fmt: skip


async def settled(system: System) -> None:
    """Until nothing is written any more: the logs' extent unchanged for three seconds."""
    last, still_since = (-1, -1), time.monotonic()
    deadline = time.monotonic() + 300
    while time.monotonic() - still_since < 3:
        assert time.monotonic() < deadline, "the system never settled"
        extent = await log_extent(system)
        if extent != last:
            last, still_since = extent, time.monotonic()
        await asyncio.sleep(0.5)


def diagnose(system: System, import_id: str) -> str:
    """Where the rows went, when the import does not complete."""
    with psycopg.connect(system.database_url) as conn:
        submitted = conn.execute(
            "SELECT count(*) FROM submission.events WHERE data->>'import_id' = %s"
            " AND event_type LIKE 'credflow.credential.submitted.%%'",
            (import_id,),
        ).fetchone()
        commands = conn.execute(
            "SELECT sum(next_offset) FROM submission.consumer_positions"
            " WHERE consumer = 'submission.commands'"
        ).fetchone()
        outbox = conn.execute("SELECT count(*) FROM submission.outbox").fetchone()
    return (f"credentials submitted: {submitted}; commands past the submission consumer's"
            f" positions: {commands}; submission outbox rows: {outbox}")  # fmt: skip


async def test_instances_killed_during_an_import_lose_and_repeat_nothing(system: System) -> None:
    rng = random.Random(SEED)
    print(f"CHAOS_SEED={SEED}")  # to replay a failing run's choice of victims
    job = await uploaded(system)
    await finish(system, job)
    kills: list[tuple[float, str]] = []
    started = time.monotonic()
    while (state := await import_state(system, job))["status"] != "completed":
        if time.monotonic() - started > DEADLINE_S:
            print(diagnose(system, job.import_id))
            raise AssertionError(f"the import never completed: {state['progress']}")
        await asyncio.sleep(KILL_EVERY_S if kills else FIRST_KILL_S)
        if (await import_state(system, job))["status"] == "completed":
            break
        victim = rng.choice([*DOUBLED, *(f"{name}@2" for name in DOUBLED)])
        system.kill(victim)
        kills.append((round(time.monotonic() - started, 1), victim))
        system.start(victim)
    print(f"killed (seconds after finish, instance): {kills}")
    assert kills, "the import completed before the first kill: nothing was tried"

    await all_visible_and_completed(system, job)
    await system.ready(*SERVICES)  # every instance, killed or not, is ready again
    assert credentials_of(system, job.import_id) == (ROWS, ROWS)
    assert (await import_state(system, job))["progress"] == {
        "rows_sent": ROWS, "rows_applied": ROWS, "rows_refused": 0,
    }  # fmt: skip
    await settled(system)
    _, dead_letters = await log_extent(system)
    assert dead_letters == 0

    live = await snapshot(system.database_url)
    rebuilt = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "credflow", "projection", "rebuild"],
        env=system.env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert await snapshot(system.database_url) == live
