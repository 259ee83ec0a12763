"""Benchmark of sealing personal fields (issue 33): the same work with sealing and without, in
one run, on the same events (CredentialSubmitted with a number, an issuer, notes and a file
name, each for its own holder: a data key per event, the worst case).

- append: EventStore.append, 100 events per call (seal: JSON, AES-256-GCM per field);
- relay: the outbox rows published to Kafka (sealed rows are longer);
- consume: ConsumerRunner applying the events to a table (open: a key per holder, AES-GCM).

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
from credflow_common.sealing import Sealing
from credflow_contracts.events.credentials import CredentialSubmitted
from credflow_contracts.events.values import MediaFile
from credflow_contracts.topics import CREDENTIALS
from tests.bench.event_runtime import drop_database, fresh_database
from tests.factories import ORG, credential_submitted
from tests.integration.runtime_support import create_topics, delete_topics_with_prefix

EVENTS = int(os.environ.get("BENCH_SEALING_EVENTS", "20000"))


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


def rates(name: str, plain: float, sealed: float) -> None:
    ratio = plain / sealed
    print(f"  {name:<44} {EVENTS / plain:>9,.0f} events/s plain  {EVENTS / sealed:>9,.0f} sealed"
          f"  ({ratio:.2f}x; target >= 0.85)")  # fmt: skip


async def run() -> None:
    print(f"== sealing personal fields ({EVENTS:,} events, a key per event) ==")
    admin_url = os.environ["DATABASE_URL"]
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = f"benchs{uuid.uuid4().hex[:6]}."
    plain_prefix, sealed_prefix = prefix + "plain.", prefix + "sealed."
    await create_topics(bootstrap, [plain_prefix + CREDENTIALS, sealed_prefix + CREDENTIALS], 6)
    url = await fresh_database(admin_url)
    batch, sealing = events(), Sealing(MemoryKeys())
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
        await delete_topics_with_prefix(bootstrap, prefix)


if __name__ == "__main__":
    asyncio.run(run())
