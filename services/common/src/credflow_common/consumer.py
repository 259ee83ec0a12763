"""The consumer runtime: at-least-once delivery, exactly-once effects.

A consumer reads records in batches and applies each batch in one PostgreSQL transaction that
also stores its position `(consumer, topic, partition) -> next offset`. On partition assignment
it seeks to the stored positions; Kafka's own committed offsets are informational only. So a
process killed anywhere resumes from the last committed transaction: nothing is lost, nothing
is applied twice.

Events the relay published twice (a crash between publishing and deleting its outbox rows) or
that were re-driven from a dead-letter topic come back at new offsets; the stream positions and
the inbox (`inbox.py`, in the same transaction) drop them. The runner prunes the inbox to its
window now and then.

A batch whose handler fails is retried with backoff; if it keeps failing, its records are
applied one by one, and a record that still fails after the retries goes to `<topic>.dlq` with
headers naming the source topic, partition, offset, error and consumer. The consumer moves on.
A record that is not a valid credflow event goes to the DLQ at once; an event type this
release does not know is skipped. Database outages are not poison: the batch waits and retries
until the database answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import psycopg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common import failpoints, inbox, positions
from credflow_common.batch_retries import BatchRetries
from credflow_common.delivery import REDRIVE_CONSUMER_HEADER, Record
from credflow_common.delivery import Delivery as Delivery  # handlers take it from here
from credflow_common.dlq import write_dead_letter
from credflow_common.inbox import INBOX_RETENTION
from credflow_common.kafka import batch_consumer, idempotent_producer
from credflow_common.metrics import ConsumerMetrics
from credflow_common.outages import OUTAGE_ERRORS, Outage
from credflow_common.sealing import Sealing, read_all
from credflow_contracts.catalogue import UnknownEventTypeError
from credflow_contracts.envelope import Envelope, EnvelopeError, Opener
from credflow_contracts.events.base import Event

log = structlog.get_logger("credflow.consumer")

Handler = Callable[[AsyncConnection[Any], Sequence[Delivery]], Awaitable[None]]
"""Applies a batch of events inside the consumer's transaction. It must not commit."""


@dataclass(frozen=True)
class ConsumerSpec:
    name: str
    topics: Sequence[str]
    handler: Handler
    start_from: Literal["earliest", "latest"] = "earliest"
    # Runs first in every batch transaction, before the inbox and the handler (a view takes a
    # shared lock here so that swapping in a rebuilt schema waits for batches in flight).
    before_batch: Callable[[AsyncConnection[Any]], Awaitable[None]] | None = None
    # The event types (`TYPE`, any version) the handler acts on; others are not even parsed,
    # only their positions stored. None: every type.
    event_types: frozenset[str] | None = None


def types_of(*events: type[Event]) -> frozenset[str]:
    """`ConsumerSpec.event_types` for these event classes."""
    return frozenset(event.TYPE for event in events)


@dataclass
class _Item:
    record: Record
    delivery: Delivery | None  # None: nothing to apply (skipped or already dead-lettered)


@dataclass
class ConsumerSettings:
    max_batch: int = 2000
    max_retries: int = 3
    retry_backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    fetch_timeout_ms: int = 500
    inbox_retention: timedelta = field(default_factory=lambda: INBOX_RETENTION)
    inbox_prune_every_s: float = 600.0
    informational_commit_s: float = 1.0


class _PositionListener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ConsumerRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Wait for the batch in flight so its transaction ends before another process starts.
        async with self.runner.batch_lock:
            self.runner.assignment_generation += 1

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        async with self.runner.batch_lock:
            self.runner.assignment_generation += 1
            # Without its stored positions the consumer must not read on: wait for the database.
            await self.runner.outage.retry(lambda: self.runner.seek_to_stored_positions(assigned))


class ConsumerRunner:
    def __init__(
        self,
        spec: ConsumerSpec,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        bootstrap_servers: str,
        metrics: ConsumerMetrics | None = None,
        *,
        settings: ConsumerSettings | None = None,
        group_prefix: str = "",
        sealing: Sealing | None = None,
    ) -> None:
        """`group_prefix`: the deployment's topic prefix, so that deployments (or test runs)
        sharing a Kafka cluster never share a consumer group: a member of another
        deployment's group would take part in this one's rebalances. `sealing` opens sealed
        fields."""
        self.spec, self.sealing = spec, sealing
        self.group_id = group_prefix + spec.name
        self.pool = pool
        self.bootstrap_servers = bootstrap_servers
        self.metrics = metrics
        self.settings = settings or ConsumerSettings()
        self.batch_lock = asyncio.Lock()
        # Bumped on every rebalance: a batch fetched before the latest seek is dropped and
        # fetched again from the stored positions.
        self.assignment_generation = 0
        self._stopping = asyncio.Event()
        self.outage = Outage(f"consumer:{spec.name}", self._stopping)
        self.retries = BatchRetries(
            spec.name, self.settings.max_retries, self.settings.retry_backoff_s,
            self.settings.max_backoff_s, self._stopping, self.outage, metrics,
        )  # fmt: skip
        self._consumer: AIOKafkaConsumer | None = None
        self._dlq_producer: AIOKafkaProducer | None = None
        self.assigned = asyncio.Event()
        self._uncommitted: dict[TopicPartition, int] = {}
        self._committed_at = 0.0
        self.inbox_pruner = inbox.Pruner(
            pool, spec.name, self.settings.inbox_retention, self.settings.inbox_prune_every_s
        )

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Consume until `stop()`, waiting out broker and database outages: the consumer is
        started again from the stored positions once they are back."""
        await self.outage.retry(self._consume)

    async def _consume(self) -> None:
        consumer = batch_consumer(
            self.bootstrap_servers, self.group_id, self.settings.max_batch, self.spec.start_from
        )
        consumer.subscribe(list(self.spec.topics), listener=_PositionListener(self))
        producer = idempotent_producer(self.bootstrap_servers)
        self._consumer, self._dlq_producer = consumer, producer
        try:
            await producer.start()
            await consumer.start()
            log.info("consumer started", consumer=self.spec.name, topics=list(self.spec.topics))
            while not self._stopping.is_set():
                await self.inbox_pruner.now_and_then()
                generation = self.assignment_generation
                batch = await consumer.getmany(
                    timeout_ms=self.settings.fetch_timeout_ms, max_records=self.settings.max_batch
                )
                if not batch:
                    continue
                async with self.batch_lock:
                    if generation != self.assignment_generation:
                        # Fetched across a rebalance: maybe from before its seek, maybe after
                        # it. Dropped, so the fetch position must go back to the stored one,
                        # or the records fetched after the seek would never be applied.
                        await self.seek_to_stored_positions(consumer.assignment())
                        continue
                    assignment = consumer.assignment()
                    records = [r for tp, rs in batch.items() if tp in assignment for r in rs]
                    if records:
                        await self.process(records)
                        self.outage.cleared()
                        await self._commit_informational(records)
                        self._report_lag(records)
        finally:
            with contextlib.suppress(*OUTAGE_ERRORS):  # informational; the broker may be out
                await self._commit_informational([], force=True)
            await consumer.stop()
            await producer.stop()

    async def catch_up(
        self,
        targets: Mapping[TopicPartition, int],
        on_applied: Callable[[int], None] = lambda count: None,
    ) -> None:
        """Without joining the consumer group, read `targets`' partitions from the stored
        positions and apply them as `run` does, until every partition's stored position has
        reached its target offset (a rebuild replays the log this way)."""
        consumer = batch_consumer(self.bootstrap_servers, None, self.settings.max_batch, "latest")
        producer = idempotent_producer(self.bootstrap_servers)
        self._consumer, self._dlq_producer = consumer, producer
        await producer.start()
        await consumer.start()
        try:
            consumer.assign(list(targets))
            await self.seek_to_stored_positions(set(targets))
            while not self._stopping.is_set():
                stored = await self.load_positions()
                behind = [
                    tp for tp, target in targets.items()
                    if stored.get((tp.topic, tp.partition), 0) < target
                ]  # fmt: skip
                if not behind:
                    return
                batch = await consumer.getmany(
                    *behind,
                    timeout_ms=self.settings.fetch_timeout_ms,
                    max_records=self.settings.max_batch,
                )
                records = [record for records in batch.values() for record in records]
                if records:
                    await self.process(records)
                    on_applied(len(records))
        finally:
            await consumer.stop()
            await producer.stop()

    # -- positions --------------------------------------------------------------------------

    async def seek_to_stored_positions(self, assigned: set[TopicPartition]) -> None:
        consumer = self._consumer
        assert consumer is not None
        stored = await self.load_positions()
        fresh = [tp for tp in assigned if (tp.topic, tp.partition) not in stored]
        if fresh:  # never consumed: start at the log's beginning (or end)
            starts = await (
                consumer.beginning_offsets(fresh)
                if self.spec.start_from == "earliest"
                else consumer.end_offsets(fresh)
            )
            for tp in fresh:
                stored[(tp.topic, tp.partition)] = starts[tp]
        for tp in assigned:
            # A plain seek sets the position at once (seek_to_beginning resets lazily, which
            # could rewind a partition after records were already applied).
            consumer.seek(tp, stored[(tp.topic, tp.partition)])
        if assigned:
            self.assigned.set()
        log.info(
            "partitions assigned",
            consumer=self.spec.name,
            positions={f"{tp.topic}:{tp.partition}": stored.get((tp.topic, tp.partition), "start")
                       for tp in sorted(assigned)},
        )  # fmt: skip

    async def load_positions(self) -> dict[tuple[str, int], int]:
        async with self.pool.connection() as conn:
            return await positions.stored_positions(conn, self.spec.name)

    # -- applying ------------------------------------------------------------------------------

    async def process(self, records: Sequence[Record]) -> None:
        items = await read_all(records, self._prepare, self.sealing)
        if await self.retries.apply(functools.partial(self._apply, items)) is None:
            return
        log.warning(
            "batch keeps failing; applying its records one by one",
            consumer=self.spec.name,
            size=len(items),
        )
        for item in items:
            failure = await self.retries.apply(functools.partial(self._apply, [item]))
            if failure is not None:
                await self._dead_letter(item.record, failure)
                await self._apply_until_database_answers([_Item(item.record, None)])

    async def _prepare(self, record: Record, opener: Opener | None = None) -> _Item:
        """Parse a record; skip what is not ours to apply; dead-letter what cannot be read."""
        redrive_for = next(
            (value for name, value in record.headers if name == REDRIVE_CONSUMER_HEADER), None
        )
        if redrive_for is not None and redrive_for.decode() != self.spec.name:
            self._count_skip(record, "redrive_for_other_consumer")
            return _Item(record, None)
        if self.spec.event_types is not None:
            ce_type = next((value for name, value in record.headers if name == "ce_type"), None)
            if ce_type is not None and ce_type.decode().rsplit(".v", 1)[0] not in (
                self.spec.event_types
            ):
                self._count_skip(record, "not_subscribed")
                return _Item(record, None)
        try:
            envelope = Envelope.from_kafka(record.value, record.headers, opener)
        except UnknownEventTypeError:
            self._count_skip(record, "unknown_event_type")
            return _Item(record, None)
        except EnvelopeError as exc:
            await self._dead_letter(record, f"EnvelopeError: {exc}")
            return _Item(record, None)
        delivery = Delivery(envelope, record.topic, record.partition, record.offset,
                            redriven=redrive_for is not None)  # fmt: skip
        return _Item(record, delivery)

    async def _apply_until_database_answers(self, items: Sequence[_Item]) -> None:
        """Commit items that carry nothing to apply (only a position to store)."""
        while await self.retries.apply(functools.partial(self._apply, items)) is not None:
            pass

    async def _apply(self, items: Sequence[_Item]) -> None:
        started = asyncio.get_running_loop().time()
        deliveries = [item.delivery for item in items if item.delivery is not None]
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(consumer=self.spec.name, batch_size=len(items))
        if len(deliveries) == 1:
            deliveries[0].bind_log_context()
        async with self.pool.connection() as conn:
            try:
                # The prologue (BEGIN, `before_batch`, the inbox claim) and the epilogue (the
                # positions, COMMIT) each go in one round trip. The handler runs outside
                # pipeline mode: its statements raise where they fail, and it may COPY.
                async with conn.pipeline():
                    if self.spec.before_batch is not None:
                        await self.spec.before_batch(conn)
                    fresh = await inbox.claim(conn, self.spec.name, deliveries)
                if fresh:
                    await self.spec.handler(conn, fresh)
                failpoints.hit("consumer.before_commit")
                async with conn.pipeline():
                    await positions.save_positions(
                        conn, self.spec.name, [item.record for item in items]
                    )
                    await conn.commit()
            except BaseException:
                with contextlib.suppress(psycopg.Error):
                    await conn.rollback()
                raise
        if self.metrics:
            self.metrics.batch_seconds.labels(self.spec.name).observe(
                asyncio.get_running_loop().time() - started
            )
            for delivery in fresh:
                self.metrics.processed.labels(self.spec.name, delivery.topic).inc()
            for _ in range(len(deliveries) - len(fresh)):
                self.metrics.skipped.labels(
                    self.spec.name, items[0].record.topic, "duplicate"
                ).inc()

    # -- dead letters ------------------------------------------------------------------------

    async def _dead_letter(self, record: Record, error: str) -> None:
        producer = self._dlq_producer
        assert producer is not None
        await write_dead_letter(producer, record, self.spec.name, error)
        if self.metrics:
            self.metrics.dead_lettered.labels(self.spec.name, record.topic).inc()

    # -- bookkeeping ---------------------------------------------------------------------------

    async def _commit_informational(self, records: Sequence[Record], force: bool = False) -> None:
        """Tell Kafka how far the consumer got (for lag tools only: positions live in
        PostgreSQL), at most once per `informational_commit_s`: committing after every small
        batch costs the broker and the consumer more than the batch itself."""
        consumer = self._consumer
        assert consumer is not None
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            self._uncommitted[tp] = max(self._uncommitted.get(tp, 0), record.offset + 1)
        now = asyncio.get_running_loop().time()
        if not self._uncommitted or (
            not force and now - self._committed_at < self.settings.informational_commit_s
        ):
            return
        offsets, self._uncommitted, self._committed_at = self._uncommitted, {}, now
        with contextlib.suppress(Exception):  # informational: positions live in PostgreSQL
            await consumer.commit(offsets)

    def _report_lag(self, records: Sequence[Record]) -> None:
        consumer = self._consumer
        if not self.metrics or consumer is None:
            return
        for tp in {TopicPartition(r.topic, r.partition) for r in records}:
            highwater = consumer.highwater(tp)
            if highwater is not None:
                position = max(r.offset for r in records if r.topic == tp.topic
                               and r.partition == tp.partition) + 1  # fmt: skip
                self.metrics.lag.labels(self.spec.name, tp.topic, str(tp.partition)).set(
                    max(highwater - position, 0)
                )

    def _count_skip(self, record: Record, reason: str) -> None:
        if self.metrics:
            self.metrics.skipped.labels(self.spec.name, record.topic, reason).inc()
