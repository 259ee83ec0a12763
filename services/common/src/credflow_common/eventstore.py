"""The event store: streams of events in the service's schema, with a transactional outbox.

`append` writes the events and their outbox rows in the caller's transaction, so either both
exist or neither does. The relay (`credflow_common.relay`) later publishes the outbox rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection

from credflow_common.errors import ConcurrencyError
from credflow_common.sealing import Sealing, ToSeal
from credflow_contracts.catalogue import read_event
from credflow_contracts.envelope import Envelope
from credflow_contracts.events.base import Event
from credflow_contracts.personal import personal_fields


def outbox_channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel a service's relay waits on (notified by the outbox's insert
    trigger, migration 0002)."""
    return f"{schema}_outbox"


@dataclass(frozen=True)
class Metadata:
    tenant_id: UUID
    correlation_id: UUID | None = None
    causation_id: UUID | None = None
    actor_id: UUID | None = None


@dataclass(frozen=True)
class Append:
    """Events for one stream, after `expected_version` (0: a new stream)."""

    stream_id: str
    expected_version: int
    events: Sequence[Event]
    metadata: Metadata


@dataclass(frozen=True)
class RecordedEvent:
    stream_id: str
    version: int
    event_id: UUID
    event: Event
    tenant_id: UUID
    recorded_at: datetime
    correlation_id: UUID | None = None
    causation_id: UUID | None = None


class EventStore:
    """Streams in one service's schema. `source` is the CloudEvents source of what it publishes,
    e.g. `/credflow/submission`. `topic_prefix` namespaces topics when several deployments
    share a Kafka cluster (e.g. `staging.`); empty by default."""

    def __init__(
        self, schema: str, source: str, topic_prefix: str = "", sealing: Sealing | None = None
    ) -> None:
        self.schema = schema
        self.source = source
        self.topic_prefix = topic_prefix
        self.sealing = sealing

    async def append(
        self,
        conn: AsyncConnection[Any],
        stream_id: str,
        expected_version: int,
        events: Sequence[Event],
        metadata: Metadata,
    ) -> list[RecordedEvent]:
        """Append `events` after `expected_version` (0 for a new stream), inside the caller's
        transaction, in one statement. Raises `ConcurrencyError` when the stream is not at
        `expected_version`; roll the transaction back then (a writer racing this one can leave
        part of the append in it), or append inside a savepoint to go on without it."""
        appended = await self.append_many(
            conn, [Append(stream_id, expected_version, events, metadata)]
        )
        return appended[0]

    async def append_many(
        self, conn: AsyncConnection[Any], appends: Sequence[Append]
    ) -> list[list[RecordedEvent]]:
        """`append` to several streams in one statement (a batch of commands, each to its own
        stream); the same rules apply to each stream, and any conflict raises."""
        now = datetime.now(UTC)
        rows: list[tuple[Append, Envelope]] = [
            (append, Envelope(
                event=event, source=self.source, tenant_id=append.metadata.tenant_id, time=now,
                correlation_id=append.metadata.correlation_id,
                causation_id=append.metadata.causation_id,
                aggregate_version=append.expected_version + offset,
                stream_id=append.stream_id,
            ))
            for append in appends
            for offset, event in enumerate(append.events, start=1)
        ]  # fmt: skip
        if not rows:
            return [[] for _ in appends]
        records = [
            envelope.to_kafka(payload)
            for (_, envelope), payload in zip(rows, await self._sealed(conn, rows), strict=True)
        ]
        cursor = await conn.execute(
            _APPEND,
            {
                "streams": [append.stream_id for append, _ in rows],
                "expected": [append.expected_version for append, _ in rows],
                "tenants": [append.metadata.tenant_id for append, _ in rows],
                "metadata": [json.dumps(_metadata_json(append.metadata)) for append, _ in rows],
                "now": now,
                "versions": [_version(envelope) for _, envelope in rows],
                "ids": [envelope.id for _, envelope in rows],
                "types": [envelope.type for _, envelope in rows],
                # the event JSON, serialised once for both tables
                "data": [record.value.decode() for record in records],
                "topics": [self.topic_prefix + envelope.event.TOPIC for _, envelope in rows],
                "keys": [record.key for record in records],
                "values": [record.value for record in records],
                "headers": [
                    json.dumps([[name, value.decode()] for name, value in record.headers])
                    for record in records
                ],
            },
        )
        outcome = {stream: (actual, count) for stream, actual, count in await cursor.fetchall()}
        for append in appends:
            actual, count = outcome.get(append.stream_id, (None, 0))
            if append.events and count != len(append.events):
                known = actual if actual is not None and actual != append.expected_version else None
                raise ConcurrencyError(append.stream_id, append.expected_version, known)
        recorded: dict[str, list[RecordedEvent]] = {append.stream_id: [] for append in appends}
        for append, envelope in rows:
            recorded[append.stream_id].append(RecordedEvent(
                stream_id=append.stream_id, version=_version(envelope),
                event_id=envelope.id, event=envelope.event, tenant_id=append.metadata.tenant_id,
                recorded_at=now, correlation_id=append.metadata.correlation_id,
                causation_id=append.metadata.causation_id,
            ))  # fmt: skip
        return [recorded[append.stream_id] for append in appends]

    async def current_version(self, conn: AsyncConnection[Any], stream_id: str) -> int:
        cursor = await conn.execute(
            "SELECT coalesce(max(version), 0) FROM events WHERE stream_id = %s", (stream_id,)
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def load(
        self, conn: AsyncConnection[Any], stream_id: str, after_version: int = 0
    ) -> list[RecordedEvent]:
        """The stream's events after `after_version`, oldest first, upcast to current models."""
        cursor = await conn.execute(
            "SELECT version, event_id, event_type, tenant_id, data, metadata, recorded_at"
            " FROM events WHERE stream_id = %s AND version > %s ORDER BY version",
            (stream_id, after_version),
        )
        rows = await cursor.fetchall()
        opened = await self._opened(conn, rows)
        return [
            RecordedEvent(
                stream_id=stream_id,
                version=version,
                event_id=event_id,
                event=read_event(event_type, data),
                tenant_id=tenant_id,
                recorded_at=recorded_at,
                correlation_id=_uuid_or_none(meta.get("correlation_id")),
                causation_id=_uuid_or_none(meta.get("causation_id")),
            )
            for (version, event_id, event_type, tenant_id, _, meta, recorded_at), data in zip(
                rows, opened, strict=True
            )
        ]

    async def _sealed(
        self, conn: AsyncConnection[Any], rows: Sequence[tuple[Append, Envelope]]
    ) -> list[bytes | None]:
        """Each event's JSON with its personal fields sealed (None: as the event has it)."""
        if self.sealing is None:
            return [None] * len(rows)
        personal = [i for i, (_, e) in enumerate(rows) if personal_fields(e.event.TYPE)]
        sealed: list[bytes | None] = [None] * len(rows)
        items = [ToSeal(rows[i][1].type, rows[i][1].id, rows[i][1].tenant_id,
                        rows[i][1].event.model_dump(mode="json")) for i in personal]  # fmt: skip
        for index, payload in zip(personal, await self.sealing.seal(items, conn), strict=True):
            sealed[index] = payload
        return sealed

    async def _opened(
        self, conn: AsyncConnection[Any], rows: Sequence[Any]
    ) -> list[dict[str, Any]]:
        """Each row's event data, its sealed fields opened."""
        if self.sealing is None:
            return [row[4] for row in rows]
        items = [ToSeal(event_type, event_id, tenant_id, data)
                 for _, event_id, event_type, tenant_id, data, _, _ in rows]  # fmt: skip
        return await self.sealing.open_all(items, conn)


# One statement for any number of streams: each stream's events go in only if the stream is at
# its expected version (per the statement's snapshot), and the outbox rows, in event order, only
# for streams whose events all went in. A writer that got there between the snapshot and the
# insert makes its rows conflict: they are skipped, the stream's count falls short, and the
# caller gets `ConcurrencyError` (and rolls back). The arrays go in binary (`%b`): psycopg's text
# format escapes each element with a regular expression, which cost more than everything else
# in an append of a thousand events.
_APPEND = """
WITH input AS (
    SELECT * FROM unnest(%(streams)b::text[], %(expected)b::integer[], %(tenants)b::uuid[],
                         %(metadata)b::jsonb[], %(versions)b::integer[], %(ids)b::uuid[],
                         %(types)b::text[], %(data)b::jsonb[], %(topics)b::text[],
                         %(keys)b::bytea[], %(values)b::bytea[], %(headers)b::jsonb[])
        WITH ORDINALITY AS i (stream_id, expected, tenant_id, metadata, version, event_id,
                              event_type, data, topic, key, value, headers, position)
), current_version AS (
    SELECT s.stream_id, s.expected, s.events, (
        SELECT coalesce(max(e.version), 0) FROM events e WHERE e.stream_id = s.stream_id
    ) AS version
    FROM (SELECT stream_id, min(expected) AS expected, count(*) AS events FROM input
          GROUP BY stream_id) AS s
), appended AS (
    INSERT INTO events (stream_id, version, event_id, event_type, tenant_id, data, metadata,
                        recorded_at)
    SELECT i.stream_id, i.version, i.event_id, i.event_type, i.tenant_id, i.data, i.metadata,
           %(now)s
    FROM input i JOIN current_version c USING (stream_id)
    WHERE c.version = c.expected
    ON CONFLICT DO NOTHING
    RETURNING stream_id
), counts AS (
    SELECT stream_id, count(*) AS appended FROM appended GROUP BY stream_id
), published AS (
    INSERT INTO outbox (topic, key, value, headers)
    SELECT i.topic, i.key, i.value, i.headers
    FROM input i JOIN counts n USING (stream_id) JOIN current_version c USING (stream_id)
    WHERE n.appended = c.events
    ORDER BY i.position
)
SELECT c.stream_id, c.version, coalesce(n.appended, 0)
FROM current_version c LEFT JOIN counts n USING (stream_id)
"""


def _version(envelope: Envelope) -> int:
    assert envelope.aggregate_version is not None  # every appended envelope has one
    return envelope.aggregate_version


def _metadata_json(metadata: Metadata) -> dict[str, str]:
    values = {
        "correlation_id": metadata.correlation_id,
        "causation_id": metadata.causation_id,
        "actor_id": metadata.actor_id,
    }
    return {key: str(value) for key, value in values.items() if value is not None}


def _uuid_or_none(value: str | None) -> UUID | None:
    return UUID(value) if value else None


def is_connection_problem(exc: BaseException) -> bool:
    """True for failures of the database itself (retry later), not of the data or the code."""
    return isinstance(exc, psycopg.OperationalError)
