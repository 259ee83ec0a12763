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

from credflow_common.delivery import Delivery

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
    inside the same batch included). One statement: both guards and both records."""
    if not deliveries:
        return []
    streams = [delivery.stream or (None, None, None, None) for delivery in deliveries]
    sources, stream_ids, topics, partitions = (
        list(column) for column in zip(*streams, strict=True)
    )
    cursor = await conn.execute(
        _CLAIM,
        {
            "consumer": consumer,
            "ids": [delivery.event_id for delivery in deliveries],
            "sources": sources,
            "streams": stream_ids,
            "topics": topics,
            "partitions": partitions,
            "versions": [delivery.envelope.aggregate_version for delivery in deliveries],
            "redriven": [delivery.redriven for delivery in deliveries],
        },
        prepare=False,  # NOT_PREPARED, above: its subquery reads `consumer_streams` by key
    )
    return [deliveries[position - 1] for (position,) in await cursor.fetchall()]


# A delivery with a stream version passes when it is above both the stored version of its
# stream and every version of the same stream earlier in the batch (those that passed raised
# it; those that did not were below it already), or when it is a re-driven dead letter. The
# inbox records the ids that pass, and the first delivery of each id it had not recorded
# before is returned; the stream positions rise to the highest version that passed.
_CLAIM = """
WITH batch AS (
    SELECT * FROM unnest(%(ids)b::uuid[], %(sources)b::text[], %(streams)b::text[],
                         %(topics)b::text[], %(partitions)b::integer[], %(versions)b::bigint[],
                         %(redriven)b::boolean[])
        WITH ORDINALITY AS b (event_id, source, stream_id, topic, partition, version, redriven,
                              position)
), judged AS (
    SELECT b.*, b.stream_id IS NULL OR b.version IS NULL OR b.redriven OR b.version > greatest(
        (SELECT s.version FROM consumer_streams s
         WHERE s.consumer = %(consumer)s AND s.source = b.source AND s.stream_id = b.stream_id
           AND s.topic = b.topic AND s.partition = b.partition),
        max(b.version) OVER (PARTITION BY b.source, b.stream_id, b.topic, b.partition
                             ORDER BY b.position ROWS BETWEEN UNBOUNDED PRECEDING
                             AND 1 PRECEDING),
        0) AS passes
    FROM batch b
), recorded AS (
    INSERT INTO consumer_inbox (consumer, event_id)
    SELECT %(consumer)s, event_id FROM judged WHERE passes ORDER BY position
    ON CONFLICT DO NOTHING
    RETURNING event_id
), raised AS (
    INSERT INTO consumer_streams (consumer, source, stream_id, topic, partition, version)
    SELECT %(consumer)s, source, stream_id, topic, partition, max(version) FROM judged
    WHERE passes AND stream_id IS NOT NULL AND version IS NOT NULL
    GROUP BY source, stream_id, topic, partition
    ON CONFLICT (consumer, source, stream_id, topic, partition) DO UPDATE
    SET version = GREATEST(consumer_streams.version, EXCLUDED.version)
)
SELECT min(j.position) FROM judged j JOIN recorded r USING (event_id) WHERE j.passes
GROUP BY j.event_id ORDER BY 1
"""


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
