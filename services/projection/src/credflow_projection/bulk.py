"""Bulk replay: the first pass of a rebuild, into empty tables.

The live consumer loads, folds and writes back every batch in its own transaction, which is
what keeps it exactly-once while it runs forever. A rebuild starts from empty tables and from
offset 0, so it can do less: it keeps every credential's rows in memory for the whole replay,
folds each event once with the same `model.apply`, and writes each table once at the end with
COPY, together with the inbox and the positions, in one transaction. If it dies, nothing was
committed and the rebuild starts again from a freshly dropped schema.

What the live consumer does per record is kept: records re-driven for another consumer are
skipped, so are unknown event types and unreadable records (the live consumer dead-lettered
them), and an event seen twice (the relay published it twice) is applied once: the inbox keeps
the ids within its window and the stream positions every stream's last version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

import structlog
from aiokafka import TopicPartition
from psycopg import AsyncConnection

from credflow_common.delivery import REDRIVE_CONSUMER_HEADER, Delivery, StreamKey
from credflow_common.inbox import older_than_retention
from credflow_common.kafka import batch_consumer
from credflow_common.sealing import Sealing, read_all
from credflow_contracts.catalogue import UnknownEventTypeError
from credflow_contracts.envelope import Envelope, EnvelopeError, Opener
from credflow_projection import model
from credflow_projection.projector import CONSUMER, apply_reference_data, store
from credflow_projection.rows import Views

log = structlog.get_logger("credflow.projection.rebuild")
FETCH_RECORDS = 10_000


async def replay_into_empty_tables(
    conn: AsyncConnection[Any],
    bootstrap_servers: str,
    targets: Mapping[TopicPartition, int],
    on_read: Callable[[int], None] = lambda count: None,
    sealing: Sealing | None = None,
) -> None:
    """Apply every record of `targets`' partitions from their beginning up to the target
    offsets, in `conn`'s transaction (the caller commits), sealed fields opened with
    `sealing`'s keys."""
    consumer = batch_consumer(bootstrap_servers, None, FETCH_RECORDS, "latest")
    await consumer.start()
    try:
        consumer.assign(list(targets))
        positions = dict(await consumer.beginning_offsets(list(targets)))
        for tp, offset in positions.items():
            consumer.seek(tp, offset)
        views = Views()
        applied: set[UUID] = set()
        streams: dict[StreamKey, int] = {}
        while behind := [tp for tp, target in targets.items() if positions[tp] < target]:
            batch = await consumer.getmany(*behind, timeout_ms=500, max_records=FETCH_RECORDS)
            deliveries = []
            for tp, records in batch.items():
                for delivery in await read_all(records, _readable, sealing):
                    if delivery is not None and _first_time(delivery, applied, streams):
                        deliveries.append(delivery)
                positions[tp] = records[-1].offset + 1 if records else positions[tp]
                on_read(len(records))
            for delivery in await apply_reference_data(conn, deliveries):
                model.apply(views, delivery.envelope)
        await store(conn, views, fresh=True)
        async with conn.cursor() as cursor:
            async with cursor.copy("COPY consumer_inbox (consumer, event_id) FROM STDIN") as copy:
                # One text block: the consumer name is plain ASCII, ids need no escaping.
                await copy.write("".join(f"{CONSUMER}\t{event_id}\n" for event_id in applied
                                         if not older_than_retention(event_id)))  # fmt: skip
            columns = "consumer, source, stream_id, topic, partition, version"
            async with cursor.copy(f"COPY consumer_streams ({columns}) FROM STDIN") as copy:
                for stream, version in streams.items():
                    await copy.write_row((CONSUMER, *stream, version))
            await cursor.executemany(
                "INSERT INTO consumer_positions (consumer, topic, partition, next_offset)"
                " VALUES (%s, %s, %s, %s)",
                [(CONSUMER, tp.topic, tp.partition, offset) for tp, offset in positions.items()],
            )
    finally:
        await consumer.stop()


def _first_time(delivery: Delivery, applied: set[UUID], streams: dict[StreamKey, int]) -> bool:
    """The live consumer's guards (`credflow_common.inbox`), in memory: a repeated event id, or
    a stream version not above the stream's last, was applied before."""
    stream = delivery.stream
    version = delivery.envelope.aggregate_version or 0
    if delivery.event_id in applied:
        return False
    if stream is not None and not delivery.redriven and version <= streams.get(stream, 0):
        return False
    applied.add(delivery.event_id)
    if stream is not None:
        streams[stream] = max(version, streams.get(stream, 0))
    return True


async def _readable(record: Any, opener: Opener | None) -> Delivery | None:
    redrive_for = next(
        (value for name, value in record.headers if name == REDRIVE_CONSUMER_HEADER), None
    )
    if redrive_for is not None and redrive_for.decode() != CONSUMER:
        return None
    try:
        envelope = Envelope.from_kafka(record.value, record.headers, opener)
    except UnknownEventTypeError:
        return None
    except EnvelopeError as exc:
        log.warning("unreadable record skipped", topic=record.topic, offset=record.offset,
                    error=str(exc))  # fmt: skip
        return None
    return Delivery(envelope, record.topic, record.partition, record.offset,
                    redriven=redrive_for is not None)  # fmt: skip
