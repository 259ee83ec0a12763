"""Benchmark of sealing personal fields (issue 33): the same work with sealing and without, in
one run, on the same events (CredentialSubmitted with a number, an issuer, notes and a file
name, each for its own holder: a data key per event, the worst case).

- append: EventStore.append, 100 events per call (seal: JSON, AES-256-GCM per field);
- relay: the outbox rows published to Kafka (sealed rows are longer);
- consume: ConsumerRunner applying the events to a table (open: a key per holder, AES-GCM);
- projection: the views consumer applying BENCH_SEALING_PROJECTION_EVENTS (default 100,000)
  events of 20,000 people (named, with emails) and their credentials (a title, a number and
  notes each; submitted, put up for review, claimed, validated with a comment), published
  plain to one set of topics and sealed to another.

Keys come from memory here (`MemoryKeys`): a service fetches each person's key once per batch
from the directory and keeps it for minutes, so the steady cost is the sealing itself. Target:
within 15 % of the throughput without.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Collection, Sequence
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from credflow_common.consumer import ConsumerRunner, ConsumerSettings, ConsumerSpec, Delivery
from credflow_common.db import schema_pool
from credflow_common.eventstore import EventStore, Metadata
from credflow_common.migrations import migrate
from credflow_common.relay import OutboxRelay, outbox_pending
from credflow_common.sealing import Sealing, ToSeal
from credflow_contracts.envelope import Envelope
from credflow_contracts.events.credentials import CredentialSubmitted, CredentialValidated
from credflow_contracts.events.values import Certification, MediaFile
from credflow_contracts.personal import personal_fields
from credflow_contracts.topics import CREDENTIALS, PUBLIC_TOPICS
from credflow_projection.app import MIGRATIONS as PROJECTION_MIGRATIONS
from credflow_projection.projector import views_consumer
from tests.bench.event_runtime import drop_database, fresh_database
from tests.bench.projection import generate, views_applied
from tests.bench.scale import produce
from tests.factories import ORG, credential_submitted
from tests.integration.runtime_support import create_topics, delete_topics_with_prefix

EVENTS = int(os.environ.get("BENCH_SEALING_EVENTS", "20000"))
PROJECTION_EVENTS = int(os.environ.get("BENCH_SEALING_PROJECTION_EVENTS", "100000"))


class MemoryKeys:
    def __init__(self) -> None:
        self.keys: dict[UUID, bytes] = {}

    async def keys_of(
        self, organisation_id: UUID, user_ids: Collection[UUID], conn: Any = None
    ) -> dict[UUID, bytes | None]:
        return {u: self.keys.setdefault(u, os.urandom(32)) for u in user_ids}

    def forget(self, organisation_id: UUID, user_id: UUID) -> None:
        self.keys.pop(user_id, None)


def events() -> list[CredentialSubmitted]:
    media = [MediaFile(media_id=uuid.uuid4(), file_name="licence-front.png", kind="png",
                       content_type="image/png", size_bytes=1000, sha256="0" * 64)]  # fmt: skip
    return [
        credential_submitted(notes="Renewed at the Parramatta office").model_copy(
            update={"media": media, "title": "Heavy rigid licence"}
        )
        for _ in range(EVENTS)
    ]


async def append(url: str, schema: str, prefix: str, sealing: Sealing | None,
                 batch: list[CredentialSubmitted]) -> float:  # fmt: skip
    store = EventStore(schema, "/credflow/bench", topic_prefix=prefix, sealing=sealing)
    async with await AsyncConnection.connect(url, options=f"-c search_path={schema}") as conn:
        started = time.perf_counter()
        async with conn.transaction():
            for n in range(0, len(batch), 100):
                await store.append(conn, f"import-{n // 100}", 0, batch[n : n + 100],
                                   Metadata(ORG))  # fmt: skip
        return time.perf_counter() - started


async def relay(url: str, schema: str, bootstrap: str) -> float:
    pool = schema_pool(url, schema)
    await pool.open()
    relay = OutboxRelay(url, schema, bootstrap)
    started = time.perf_counter()
    task = asyncio.create_task(relay.run())
    while True:
        async with pool.connection() as conn:
            if await outbox_pending(conn) == 0:
                break
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    relay.stop()
    await task
    await pool.close()
    return elapsed


async def apply_rows(conn: AsyncConnection[Any], deliveries: Sequence[Delivery]) -> None:
    async with (
        conn.cursor() as cur,
        cur.copy("COPY applied (credential_id, number, notes) FROM STDIN") as copy,
    ):
        for delivery in deliveries:
            event = delivery.envelope.event
            assert isinstance(event, CredentialSubmitted)
            number = event.certification.number if event.certification else None
            await copy.write_row((event.credential_id, number, event.notes))


async def consume(url: str, schema: str, bootstrap: str, topic: str,
                  sealing: Sealing | None) -> float:  # fmt: skip
    pool = schema_pool(url, schema)
    await pool.open()
    async with pool.connection() as conn:
        await conn.execute("CREATE TABLE applied (credential_id uuid, number text, notes text)")
    runner = ConsumerRunner(
        ConsumerSpec(name=f"bench-{schema}", topics=[topic], handler=apply_rows), pool, bootstrap,
        settings=ConsumerSettings(max_batch=5000), sealing=sealing,
    )  # fmt: skip
    task = asyncio.create_task(runner.run())
    started: float | None = None
    while True:
        async with pool.connection() as conn:
            cursor = await conn.execute("SELECT count(*) FROM applied")
            row = await cursor.fetchone()
        applied = row[0] if row else 0
        if applied and started is None:
            started, first = time.perf_counter(), applied
        if applied >= EVENTS:
            break
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - (started or 0)
    runner.stop()
    await task
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT notes FROM applied LIMIT 1")
        opened = await cursor.fetchone()
    await pool.close()
    assert opened == ("Renewed at the Parramatta office",), "applied opened, not sealed"
    return elapsed * EVENTS / (EVENTS - first)


def with_personal_fields(envelopes: list[Envelope]) -> list[Envelope]:
    """The projection bench's events, each credential with a title, a number and notes, each
    validation with a comment."""
    out, holders = [], {}
    for envelope in envelopes:
        event = envelope.event
        if isinstance(event, CredentialSubmitted):
            holders[event.credential_id] = event.holder_id
            event = event.model_copy(update={
                "title": "Heavy rigid licence", "notes": "Renewed at the Parramatta office",
                "certification": Certification(number=f"HR-{envelope.id.hex[:8]}"),
            })  # fmt: skip
        elif isinstance(event, CredentialValidated):
            event = event.model_copy(
                update={
                    "comment": "Checked against the issuer's register",
                    "holder_id": holders[event.credential_id],
                }
            )
        out.append(Envelope(event=event, source=envelope.source, tenant_id=envelope.tenant_id))
    return out


async def sealed_payloads(envelopes: list[Envelope], sealing: Sealing) -> list[bytes | None]:
    personal = [i for i, e in enumerate(envelopes) if personal_fields(e.event.TYPE)]
    items = [ToSeal(envelopes[i].type, envelopes[i].id, envelopes[i].tenant_id,
                    envelopes[i].event.model_dump(mode="json")) for i in personal]  # fmt: skip
    payloads: list[bytes | None] = [None] * len(envelopes)
    for index, payload in zip(personal, await sealing.seal(items), strict=True):
        payloads[index] = payload
    return payloads


async def apply_views(url: str, schema: str, bootstrap: str, prefix: str, total: int,
                      sealing: Sealing | None) -> float:  # fmt: skip
    """Seconds the views consumer takes to apply `total` events, once the group has joined."""
    await migrate(url, schema, [PROJECTION_MIGRATIONS])
    pool = schema_pool(url, schema, max_size=3)
    await pool.open()
    runner = ConsumerRunner(views_consumer(prefix), pool, bootstrap,
                            settings=ConsumerSettings(max_batch=5000), sealing=sealing)  # fmt: skip
    task = asyncio.create_task(runner.run())
    first, finished = await views_applied(pool, total)
    runner.stop()
    await task
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT count(*) FROM credentials WHERE title = %s",
                                    ("Heavy rigid licence",))  # fmt: skip
        row = await cursor.fetchone()
    await pool.close()
    assert row is not None
    assert row[0] > 0, "the views hold the opened titles"
    return (finished - first[0]) * total / (total - first[1])


async def projection(admin_url: str, bootstrap: str, prefix: str, sealing: Sealing) -> None:
    envelopes = with_personal_fields(generate(PROJECTION_EVENTS))
    plain_prefix, sealed_prefix = prefix + "views-plain.", prefix + "views-sealed."
    await create_topics(bootstrap, [p + t for p in (plain_prefix, sealed_prefix)
                                    for t in PUBLIC_TOPICS], 6)  # fmt: skip
    await produce(bootstrap, plain_prefix, envelopes)
    await produce(bootstrap, sealed_prefix, envelopes, await sealed_payloads(envelopes, sealing))
    url = await fresh_database(admin_url)
    try:
        plain = await apply_views(url, "plain", bootstrap, plain_prefix, len(envelopes), None)
        sealed = await apply_views(url, "sealed", bootstrap, sealed_prefix, len(envelopes),
                                   sealing)  # fmt: skip
        rates("projection (the views consumer)", plain, sealed, len(envelopes))
    finally:
        await drop_database(admin_url, url)


def rates(name: str, plain: float, sealed: float, count: int = EVENTS) -> None:
    ratio = plain / sealed
    print(f"  {name:<44} {count / plain:>9,.0f} events/s plain  {count / sealed:>9,.0f} sealed"
          f"  ({ratio:.2f}x; target >= 0.85)")  # fmt: skip


async def run() -> None:
    print(f"== sealing personal fields ({EVENTS:,} events, a key per event) ==")
    admin_url = os.environ["DATABASE_URL"]
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = f"benchs{uuid.uuid4().hex[:6]}."
    plain_prefix, sealed_prefix = prefix + "plain.", prefix + "sealed."
    await create_topics(bootstrap, [plain_prefix + CREDENTIALS, sealed_prefix + CREDENTIALS], 6)
    batch, sealing = events(), Sealing(MemoryKeys())
    try:
        url = await fresh_database(admin_url)
        try:
            await migrate(url, "plain")
            await migrate(url, "sealed")
            appended = (await append(url, "plain", plain_prefix, None, batch),
                        await append(url, "sealed", sealed_prefix, sealing, batch))  # fmt: skip
            rates("append (100 events per call)", *appended)
            relayed = (await relay(url, "plain", bootstrap), await relay(url, "sealed", bootstrap))
            rates("relay (outbox -> Kafka)", *relayed)
            consumed = (
                await consume(url, "plain", bootstrap, plain_prefix + CREDENTIALS, None),
                await consume(url, "sealed", bootstrap, sealed_prefix + CREDENTIALS, sealing),
            )
            rates("consume (open, apply, positions)", *consumed)
        finally:
            await drop_database(admin_url, url)
        await projection(admin_url, bootstrap, prefix, sealing)
    finally:
        await delete_topics_with_prefix(bootstrap, prefix)


if __name__ == "__main__":
    asyncio.run(run())
