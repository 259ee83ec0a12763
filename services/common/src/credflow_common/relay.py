"""The outbox relay: publishes a service's outbox rows to Kafka, in insertion order, then deletes
them.

One relay is active per service schema: leadership is a PostgreSQL session advisory lock. A
second instance waits, polling for the lock, and takes over when the leader's session ends (its
process died or its connection dropped). The leader does all its work on the connection that
holds the lock, so a relay that lost its connection cannot go on publishing.

Publishing uses an idempotent producer with `acks=all`, keyed by aggregate id. Rows are deleted
only after Kafka acknowledged them: a crash in between publishes those rows again on restart,
with the same `ce_id`; consumers absorb such repeats (see `credflow_common.consumer`).

The relay wakes on NOTIFY `<schema>_outbox` (sent by the outbox's insert trigger when the
writing transaction commits) with a short polling fallback, so publishing latency stays in
milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from aiokafka import AIOKafkaProducer
from psycopg import AsyncConnection

from credflow_common import failpoints
from credflow_common.db import check_schema_name
from credflow_common.eventstore import outbox_channel
from credflow_common.metrics import RelayMetrics
from credflow_common.outages import Outage
from credflow_common.waiting import notifications, poll_until_stopped, until_any

log = structlog.get_logger("credflow.relay")
PUBLISH_TIMEOUT_MS = 5000


def relay_lock_key(schema: str) -> int:
    """A stable 63-bit advisory-lock key per schema."""
    return zlib.crc32(f"credflow.relay.{schema}".encode()) & 0x7FFFFFFF


class OutboxRelay:
    def __init__(
        self,
        database_url: str,
        schema: str,
        bootstrap_servers: str,
        metrics: RelayMetrics | None = None,
        *,
        batch_size: int = 1000,
        poll_interval_s: float = 0.5,
        leader_retry_s: float = 1.0,
        lag_report_s: float = 1.0,
    ) -> None:
        self.database_url = database_url
        self.schema = check_schema_name(schema)
        self.bootstrap_servers = bootstrap_servers
        self.metrics = metrics
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.leader_retry_s = leader_retry_s
        self.lag_report_s = lag_report_s
        self._stopping = asyncio.Event()
        self.outage = Outage(f"relay:{schema}", self._stopping)
        self.is_leader = False

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Publish until `stop()`, waiting out database and broker outages; the lag gauges are
        read from the outbox itself all along, so they tell the truth during an outage."""
        lag = asyncio.create_task(self._report_lag_forever())
        try:
            await self.outage.retry(self._lead)
        finally:
            self._set_leader(False)
            lag.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lag

    async def _lead(self) -> None:
        conn = await AsyncConnection.connect(
            self.database_url, autocommit=True, options=f"-c search_path={self.schema}"
        )
        async with conn:
            if not await self._acquire_leadership(conn):
                return
            try:
                await self._publish_while_leading(conn)
            finally:
                self._set_leader(False)  # the lock goes with this connection

    async def _publish_while_leading(self, conn: AsyncConnection[Any]) -> None:
        log.info("relay is the leader", schema=self.schema)
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            linger_ms=0,
            max_batch_size=1024 * 1024,
            # A batch the broker cannot take fails within seconds; the relay then starts
            # over with backoff (aiokafka retries metadata without pause while it waits).
            request_timeout_ms=PUBLISH_TIMEOUT_MS,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()  # a broker out of reach: let go of what start() opened
            raise

        async def publish() -> bool:
            return await self.publish_batch(conn, producer) >= self.batch_size

        try:
            async with notifications(self.database_url, outbox_channel(self.schema)) as woken:
                await poll_until_stopped(self.outage, publish, interval_s=self.poll_interval_s,
                                         woken_by=woken)  # fmt: skip
        finally:
            await producer.stop()

    async def _acquire_leadership(self, conn: AsyncConnection[Any]) -> bool:
        key = relay_lock_key(self.schema)
        while not self._stopping.is_set():
            cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))
            row = await cursor.fetchone()
            if row and row[0]:
                self._set_leader(True)
                return True
            # A standby needs only the database, which just answered: an outage it met while
            # it led (a broker away, its leadership lost meanwhile) is over for it.
            self.outage.cleared()
            await self._sleep(self.leader_retry_s)
        return False

    async def publish_batch(self, conn: AsyncConnection[Any], producer: AIOKafkaProducer) -> int:
        """Publish up to `batch_size` outbox rows in insertion order; their deletion commits
        once Kafka acknowledged them all."""
        # Pipeline mode: BEGIN travels with the DELETE in one round trip.
        async with conn.pipeline(), conn.transaction():
            # Deleted now, gone only when the transaction commits after Kafka acknowledged them
            # (publishing fails → rollback → the rows are still there).
            cursor = await conn.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT %s)"
                " RETURNING id, topic, key, value, headers",
                (self.batch_size,),
                prepare=False,  # planned for the backlog of the moment (NOT_PREPARED in inbox.py)
            )
            rows = sorted(await cursor.fetchall(), key=lambda row: row[0])
            if not rows:
                return 0
            deliveries = []
            for _, topic, key, value, headers in rows:
                deliveries.append(
                    await producer.send(
                        topic,
                        value=bytes(value),
                        key=bytes(key),
                        headers=[(name, text.encode()) for name, text in headers],
                    )
                )
            await asyncio.wait_for(asyncio.gather(*deliveries), PUBLISH_TIMEOUT_MS / 1000 + 1)
            failpoints.hit("relay.after_publish")
        if self.metrics:
            self.metrics.published.labels(self.schema).inc(len(rows))
        return len(rows)

    async def _report_lag_forever(self) -> None:
        """Every `lag_report_s`, the rows waiting in the outbox and the oldest one's age, read
        on a connection of its own: a broker outage shows as growing lag. While the database is
        out too, the gauges keep their last reading."""
        if not self.metrics:
            return
        while not self._stopping.is_set():
            try:
                async with await AsyncConnection.connect(
                    self.database_url, autocommit=True, connect_timeout=3,
                    options=f"-c search_path={self.schema}",
                ) as conn:  # fmt: skip
                    while not self._stopping.is_set():
                        await self._report_lag(conn)
                        await self._sleep(self.lag_report_s)
            except (psycopg.OperationalError, OSError):
                await self._sleep(self.lag_report_s)

    async def _report_lag(self, conn: AsyncConnection[Any]) -> None:
        assert self.metrics is not None
        cursor = await conn.execute("SELECT count(*), min(created_at) FROM outbox")
        row = await cursor.fetchone()
        pending, oldest = (row[0], row[1]) if row else (0, None)
        self.metrics.pending.labels(self.schema).set(pending)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        self.metrics.oldest_pending_seconds.labels(self.schema).set(max(age, 0.0))

    def _set_leader(self, leader: bool) -> None:
        self.is_leader = leader
        if self.metrics:
            self.metrics.is_leader.labels(self.schema).set(1 if leader else 0)

    async def _sleep(self, seconds: float) -> None:
        await until_any(self._stopping, timeout_s=seconds)


async def outbox_pending(conn: AsyncConnection[Any]) -> int:
    cursor = await conn.execute("SELECT count(*) FROM outbox")
    row = await cursor.fetchone()
    return int(row[0]) if row else 0
