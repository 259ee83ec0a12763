"""What a consumer has applied, besides its positions: the guards that drop an event seen twice.

Positions (`consumer_positions`, next offset per partition) stop a record from being applied
twice. The same event can still come back at a new offset: the relay publishes its outbox rows
again when it crashed between publishing and deleting them, and a dead letter is re-driven.
Two guards, written in the batch's own transaction, drop those repeats:

- **stream positions** (`consumer_streams`): for every event stream the consumer has read, the
  highest stream version it applied (`ce_streamid` and `ce_streamversion` under `ce_source`),
  per partition: a stream's events are in version order within a partition only (one stream
  may write under several keys and topics, e.g. an import's rows). An event whose version is
  not above it is a repeat, however long ago the original was applied. A row per stream and
  partition: it grows with the aggregates, not with the events.
- **the inbox** (`consumer_inbox`): the ids of the events applied within the retention window.
  It drops repeats of events without a stream version and of re-driven dead letters (which come
  back after later versions of their stream on purpose), and answers read-your-writes
  (`positions.has_applied`). `prune` deletes what is older than the window, so it stays
  bounded by the window's events.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common.delivery import Delivery, StreamKey

log = structlog.get_logger("credflow.consumer")
INBOX_RETENTION = timedelta(days=1)
"""How long the inbox keeps an id: a relay repeats an event seconds after publishing it, and
read-your-writes asks within seconds of a command."""
PRUNE_CHUNK = 10_000
# NOT_PREPARED: statements run with `prepare=False` are planned at every run. Prepared,
# PostgreSQL may keep a generic plan made while their table was nearly empty (a scan of all of
# it, fine for ten rows) and go on using it at 100,000 rows; planned each time, they join by
# index however the table has grown (`tests/integration/test_plans_as_tables_grow.py`).


async def claim(
    conn: AsyncConnection[Any], consumer: str, deliveries: Sequence[Delivery]
) -> list[Delivery]:
    """Record the deliveries as applied; return those not applied before, in order (a repeat
    inside the same batch included)."""
    if not deliveries:
        return []
    streams = [delivery.stream for delivery in deliveries]
    applied = await _stream_versions(conn, consumer, {s for s in streams if s is not None})
    passed: list[Delivery] = []
    raised: dict[StreamKey, int] = {}
    for delivery, stream in zip(deliveries, streams, strict=True):
        version = delivery.envelope.aggregate_version
        if stream is not None and version is not None:
            if not delivery.redriven and version <= applied.get(stream, 0):
                continue
            applied[stream] = raised[stream] = max(version, applied.get(stream, 0))
        passed.append(delivery)
    cursor = await conn.execute(
        "INSERT INTO consumer_inbox (consumer, event_id)"
        " SELECT %s, unnest(%b::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id",
        (consumer, [delivery.event_id for delivery in passed]),
    )
    new_ids = {row[0] for row in await cursor.fetchall()}
    fresh = []
    for delivery in passed:
        if delivery.event_id in new_ids:
            new_ids.discard(delivery.event_id)  # a repeat inside the same batch
            fresh.append(delivery)
    if raised:
        keys = list(zip(*raised, strict=True))
        await conn.execute(
            "INSERT INTO consumer_streams (consumer, source, stream_id, topic, partition, version)"
            " SELECT %s, unnest(%s::text[]), unnest(%s::text[]), unnest(%s::text[]),"
            " unnest(%s::int[]), unnest(%s::bigint[])"
            " ON CONFLICT (consumer, source, stream_id, topic, partition) DO UPDATE"
            " SET version = GREATEST(consumer_streams.version, EXCLUDED.version)",
            (consumer, *map(list, keys), list(raised.values())),
        )
    return fresh


async def _stream_versions(
    conn: AsyncConnection[Any], consumer: str, streams: set[StreamKey]
) -> dict[StreamKey, int]:
    keys = list(streams)
    if not keys:
        return {}
    cursor = await conn.execute(
        "SELECT s.source, s.stream_id, s.topic, s.partition, s.version FROM consumer_streams s"
        " JOIN unnest(%s::text[], %s::text[], %s::text[], %s::int[])"
        " AS k (source, stream_id, topic, partition) ON s.source = k.source"
        " AND s.stream_id = k.stream_id AND s.topic = k.topic AND s.partition = k.partition"
        " WHERE s.consumer = %s",
        (*map(list, zip(*keys, strict=True)), consumer),
        prepare=False,  # NOT_PREPARED, above
    )
    return {(source, stream, topic, partition): version
            for source, stream, topic, partition, version in await cursor.fetchall()}  # fmt: skip


class Pruner:
    """Prunes a consumer's inbox to its window, at most once per `every_s` (the runner calls
    `now_and_then` between batches)."""

    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        consumer: str,
        retention: timedelta,
        every_s: float,
    ) -> None:
        self.pool, self.consumer, self.retention, self.every_s = pool, consumer, retention, every_s
        self._pruned_at: float | None = None

    async def now_and_then(self) -> None:
        now = time.monotonic()
        if self._pruned_at is not None and now - self._pruned_at < self.every_s:
            return
        self._pruned_at = now
        try:
            async with self.pool.connection() as conn:
                deleted = await prune(conn, self.consumer, datetime.now(UTC) - self.retention)
        except psycopg.Error as exc:  # pruning waits for its next turn; applying goes on
            log.warning("inbox not pruned", consumer=self.consumer, error=repr(exc))
            return
        if deleted:
            log.info("inbox pruned", consumer=self.consumer, deleted=deleted)


async def prune(conn: AsyncConnection[Any], consumer: str, older_than: datetime) -> int:
    """Delete the inbox's ids applied before `older_than`, a chunk per transaction so that no
    batch waits long on the rows being deleted."""
    deleted = 0
    while True:
        async with conn.transaction():
            cursor = await conn.execute(
                "DELETE FROM consumer_inbox WHERE consumer = %s AND event_id IN ("
                " SELECT event_id FROM consumer_inbox WHERE consumer = %s AND processed_at < %s"
                " LIMIT %s)",
                (consumer, consumer, older_than, PRUNE_CHUNK),
            )
        deleted += cursor.rowcount
        if cursor.rowcount < PRUNE_CHUNK:
            return deleted


def older_than_retention(event_id: UUID, retention: timedelta = INBOX_RETENTION) -> bool:
    """Whether a (UUIDv7) event id was minted before the inbox's window; False for any other
    id."""
    minted_ms = event_id.int >> 80
    cutoff_ms = (datetime.now(UTC) - retention).timestamp() * 1000
    return event_id.version == 7 and minted_ms < cutoff_ms
