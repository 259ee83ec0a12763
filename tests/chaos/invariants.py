"""What must hold once a chaos scenario's load has stopped, with exact counts:

- every 201 submission is in the event store exactly once and in the views, and nothing else
  of Ella's was recorded; every 200 validation exactly once, its credential `verified`;
- every accepted import row is a credential exactly once;
- every queued mail sent and none set aside, each found in the mail sink under its Message-ID
  (a digest counts its rows), copies counted;
- no dead letter; the live views equal a `credflow projection rebuild`, row for row.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx
import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from credflow_common.mail import message_id
from credflow_contracts.topics import ALL_TOPICS
from tests.chaos.mixed_load import HOLDER, ROWS, MixedLoad
from tests.e2e.system import System
from tests.e2e.test_bulk_import import credentials_of, import_state, until
from tests.integration.projection.test_rebuild import snapshot

SETTLE_TIMEOUT_S = 300
CONSUMING_SCHEMAS = ("directory", "submission", "review", "importer", "reminder", "projection")
DIGEST_SUBJECT = re.compile(r"^(\d+) credential\(s\) waiting for your review$")


async def end_offsets(system: System) -> dict[TopicPartition, int]:
    """The end of every partition of this run's topics (dead-letter topics included), as the
    broker knows them now."""
    bootstrap, prefix = system.env["KAFKA_BOOTSTRAP_SERVERS"], system.env["CREDFLOW_TOPIC_PREFIX"]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(prefix)]
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [TopicPartition(d["topic"], p["partition"])
                  for d in described for p in d["partitions"]]  # fmt: skip
    assert {tp.topic for tp in partitions} >= {prefix + t for t in ALL_TOPICS}, topics
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


def extent(ends: dict[TopicPartition, int]) -> tuple[int, int]:
    """(records in every topic of this run, records in its dead-letter topics)."""
    return (sum(ends.values()),
            sum(end for tp, end in ends.items() if tp.topic.endswith(".dlq")))  # fmt: skip


def behind(load: MixedLoad, ends: dict[TopicPartition, int]) -> list[str]:
    """The consumers (with their partitions) that have not yet applied their topics to the
    end, by the positions they store with their effects."""
    lagging = []
    for schema in CONSUMING_SCHEMAS:
        stored = query(load, "SELECT consumer, topic, partition, next_offset"  # noqa: S608 - constant names
                       f" FROM {schema}.consumer_positions")  # fmt: skip
        positions = {(consumer, TopicPartition(topic, partition)): offset
                     for consumer, topic, partition, offset in stored}  # fmt: skip
        for consumer, topic in {(c, tp.topic) for c, tp in positions}:
            lagging += [
                f"{consumer} {tp.topic}[{tp.partition}] {positions.get((consumer, tp), 0)}/{end}"
                for tp, end in ends.items()
                if tp.topic == topic and positions.get((consumer, tp), 0) < end
            ]
    return lagging


async def settled(load: MixedLoad) -> None:
    """Until nothing moves any more: no event waits in any outbox, every consumer has applied
    its topics to their end, and the logs' extent stays the same for three seconds. (A consumer
    stalled by a killed group member catches up later and writes events then.)"""
    outboxes = [f"{schema}.outbox" for schema in CONSUMING_SCHEMAS
                if query(load, "SELECT to_regclass(%s)", f"{schema}.outbox")[0][0]]  # fmt: skip
    last, still_since = (-1, -1), time.monotonic()
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() - still_since < 3:
        ends = await end_offsets(load.system)
        lagging = behind(load, ends)
        assert time.monotonic() < deadline, f"the system never settled: {lagging[:5]}"
        if extent(ends) != last or lagging or outbox_rows(load, outboxes):
            last, still_since = extent(ends), time.monotonic()
        await asyncio.sleep(0.5)


def outbox_rows(load: MixedLoad, outboxes: list[str]) -> int:
    """Events written and not yet published, in these outboxes."""
    return sum(query(load, f"SELECT count(*) FROM {table}")[0][0] for table in outboxes)  # noqa: S608 - names from the catalogue


async def all_ready(system: System, within_s: float) -> float:
    """Seconds until every instance answers /ready with 200, none of them restarted."""
    started = time.monotonic()
    not_ready: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=5) as client:

        async def ready() -> bool:
            not_ready.clear()
            for name, process in system.processes.items():
                assert process.poll() is None, f"{name} exited (see {system.log_dir})"
                try:
                    response = await client.get(f"{system.url(name)}/ready")
                except httpx.TransportError as exc:
                    not_ready[name] = repr(exc)
                    continue
                if response.status_code != 200:
                    not_ready[name] = response.text
            return not not_ready

        while not await ready():
            assert time.monotonic() - started < within_s, f"not ready: {not_ready}"
            await asyncio.sleep(0.1)
    return time.monotonic() - started


async def import_done(load: MixedLoad) -> bool:
    assert load.job is not None
    return bool((await import_state(load.system, load.job))["status"] == "completed")


async def import_completed(load: MixedLoad) -> None:
    await until(lambda: import_done(load), SETTLE_TIMEOUT_S, "the import to complete")


def query(load: MixedLoad, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(load.system.database_url) as conn:
        return conn.execute(sql, params).fetchall()


def outbox(load: MixedLoad) -> list[tuple[Any, ...]]:
    """(schema, mail id, recipient, digest key, sent?, failure) of each mail queued during
    the load, by the review and reminder services."""
    return query(
        load,
        " UNION ALL ".join(
            f"SELECT '{schema}', mail_id, to_address, digest_key, sent_at IS NOT NULL, failure"  # noqa: S608 - constant names
            f" FROM {schema}.mail_outbox WHERE created_at >= %s"
            for schema in ("review", "reminder")
        ),
        load.started_at, load.started_at,
    )  # fmt: skip


async def quiescent(load: MixedLoad) -> None:
    """Until everything the load caused has happened: the import applied, Ella's credentials
    and decisions in the views, a reminder queued for each of them, every mail sent (or set
    aside), and the logs still."""
    await import_completed(load)

    async def caught_up() -> bool:
        singles = query(load, "SELECT count(*), count(*) FILTER (WHERE review = 'verified')"
                        " FROM projection.credentials WHERE credential_id = ANY(%s::uuid[])",
                        list(load.accepted))[0]  # fmt: skip
        verified = query(load, "SELECT count(*) FROM projection.credentials WHERE review ="
                         " 'verified' AND credential_id = ANY(%s::uuid[])",
                         list(load.decided.values()))[0][0]  # fmt: skip
        mails = outbox(load)
        reminders = sum(1 for m in mails if m[0] == "reminder")
        unsent = sum(1 for m in mails if not m[4] and m[5] is None)
        return (singles[0] == len(load.accepted) and verified == len(load.decided)
                and reminders >= len(load.accepted) and unsent == 0)  # fmt: skip

    await until(caught_up, SETTLE_TIMEOUT_S, "the load's effects to arrive")
    await settled(load)


async def sink_messages(mail_api_url: str, addresses: set[str]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=mail_api_url, timeout=30) as client:
        found = []
        for address in sorted(addresses):
            search = {"query": f"to:{address}", "limit": "100000"}
            page = await client.get("/api/v1/search", params=search)
            found += page.json()["messages"]
        return found


async def exact_counts(load: MixedLoad, mail_api_url: str) -> dict[str, int]:
    """Every invariant of the module's docstring, asserted; the counts behind them."""
    org, ella = load.org, load.user_id(HOLDER)
    submitted = Counter(dict(query(
        load, "SELECT data->>'credential_id', count(*) FROM submission.events"
        " WHERE event_type LIKE 'credflow.credential.submitted.%%' AND tenant_id = %s"
        " AND data->>'holder_id' = %s AND recorded_at >= %s GROUP BY 1",
        org, ella, load.started_at,
    )))  # fmt: skip
    assert submitted == Counter(dict.fromkeys(load.accepted, 1)), "each 201 once, nothing else"
    validated = Counter(dict(query(
        load, "SELECT data->>'review_id', count(*) FROM review.events"
        " WHERE event_type LIKE 'credflow.credential.validated.%%' AND tenant_id = %s"
        " AND recorded_at >= %s GROUP BY 1",
        org, load.started_at,
    )))  # fmt: skip
    assert validated == Counter(dict.fromkeys(load.decided, 1)), "each 200 decision once"

    assert load.job is not None
    assert credentials_of(load.system, load.job.import_id) == (ROWS, ROWS)
    assert (await import_state(load.system, load.job))["progress"] == {
        "rows_sent": ROWS, "rows_applied": ROWS, "rows_refused": 0,
    }  # fmt: skip

    mails = outbox(load)
    assert [m for m in mails if m[5] is not None] == [], "no mail set aside"
    reminders = [m for m in mails if m[0] == "reminder"]
    assert len(reminders) == len(load.accepted), "one reminder per credential (7 days before)"
    singles = {m[1] for m in mails if m[3] is None}
    digests = {m[1] for m in mails if m[3] is not None}
    delivered = await sink_messages(mail_api_url, {m[2] for m in mails})
    by_id = Counter(m["MessageID"] for m in delivered)
    ids = {message_id(mail_id): mail_id for mail_id in singles | digests}
    ours = {mid: n for mid, n in by_id.items() if mid in ids}
    missing = [mail_id for mail_id in singles if message_id(mail_id) not in ours]
    assert missing == [], f"{len(missing)} mails marked sent never arrived"
    first_copies = {m["MessageID"]: m for m in reversed(delivered) if m["MessageID"] in ours}
    digest_rows = sum(
        int(match.group(1)) for mid, m in first_copies.items()
        if ids[mid] in digests and (match := DIGEST_SUBJECT.match(m["Subject"]))
    )  # fmt: skip
    assert digest_rows == len(digests), "each digest row delivered in exactly one digest"
    copies = sum(n - 1 for n in ours.values())
    _, dead_letters = extent(await end_offsets(load.system))
    assert dead_letters == 0
    return {
        "submissions accepted": len(load.accepted),
        "decisions accepted": len(load.decided),
        "import rows": ROWS,
        "mails queued": len(mails),
        "reminder mails": len(reminders),
        "digest rows queued": len(digests),
        "digest rows delivered": digest_rows,
        "mail copies": copies,
        "dead letters": dead_letters,
    }


async def views_equal_a_rebuild(system: System) -> None:
    live = await snapshot(system.database_url)
    rebuilt = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "credflow", "projection", "rebuild"],
        env=system.env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    after = await snapshot(system.database_url)
    differences = {
        table: {"live only": sorted(set(map(repr, rows)) - set(map(repr, after[table])))[:3],
                "rebuilt only": sorted(set(map(repr, after[table])) - set(map(repr, rows)))[:3]}
        for table, rows in live.items() if after[table] != rows
    }  # fmt: skip
    assert not differences, f"the live views differ from a rebuild: {differences}"
