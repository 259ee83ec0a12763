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
from credflow_contracts.catalogue import read_event
from credflow_contracts.envelope import Envelope
from credflow_contracts.events.base import Event


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

    def __init__(self, schema: str, source: str, topic_prefix: str = "") -> None:
        self.schema = schema
        self.source = source
        self.topic_prefix = topic_prefix

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
        if not events:
            return []
        now = datetime.now(UTC)
        envelopes = [
            Envelope(
                event=event,
                source=self.source,
                tenant_id=metadata.tenant_id,
                time=now,
                correlation_id=metadata.correlation_id,
                causation_id=metadata.causation_id,
                aggregate_version=expected_version + offset,
            )
            for offset, event in enumerate(events, start=1)
        ]
        records = [envelope.to_kafka() for envelope in envelopes]
        cursor = await conn.execute(
            _APPEND,
            {
                "stream": stream_id,
                "expected": expected_version,
                "count": len(envelopes),
                "tenant": metadata.tenant_id,
                "metadata": json.dumps(_metadata_json(metadata)),
                "now": now,
                "versions": [envelope.aggregate_version for envelope in envelopes],
                "ids": [envelope.id for envelope in envelopes],
                "types": [envelope.type for envelope in envelopes],
                # the event JSON, serialised once for both tables
                "data": [record.value.decode() for record in records],
                "topics": [self.topic_prefix + envelope.event.TOPIC for envelope in envelopes],
                "keys": [record.key for record in records],
                "values": [record.value for record in records],
                "headers": [
                    json.dumps([[name, value.decode()] for name, value in record.headers])
                    for record in records
                ],
            },
        )
        row = await cursor.fetchone()
        assert row is not None
        actual, appended = row
        if appended != len(envelopes):
            raise ConcurrencyError(
                stream_id, expected_version, actual if actual != expected_version else None
            )
        return [
            RecordedEvent(
                stream_id=stream_id,
                version=expected_version + offset,
                event_id=envelope.id,
                event=envelope.event,
                tenant_id=metadata.tenant_id,
                recorded_at=now,
                correlation_id=metadata.correlation_id,
                causation_id=metadata.causation_id,
            )
            for offset, envelope in enumerate(envelopes, start=1)
        ]

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
            for version, event_id, event_type, tenant_id, data, meta, recorded_at in (
                await cursor.fetchall()
            )
        ]


# One statement: the events, then their outbox rows only if every event went in. Nothing is
# written when the stream is not at the expected version (ahead or behind, per the snapshot).
# A writer that got there between the snapshot and the insert makes its rows conflict: those
# are skipped, the count falls short, and `append` raises (the caller rolls back).
# The arrays go in binary (`%b`): psycopg's text format escapes each element with a regular
# expression, which cost more than everything else in an append of a thousand events.
_APPEND = """
WITH current_version AS (
    SELECT coalesce(max(version), 0) AS version FROM events WHERE stream_id = %(stream)s
), appended AS (
    INSERT INTO events (stream_id, version, event_id, event_type, tenant_id, data, metadata,
                        recorded_at)
    SELECT %(stream)s, e.version, e.event_id, e.event_type, %(tenant)s, e.data,
           %(metadata)s::jsonb, %(now)s
    FROM unnest(%(versions)b::integer[], %(ids)b::uuid[], %(types)b::text[],
                %(data)b::jsonb[]) AS e (version, event_id, event_type, data)
    WHERE (SELECT version FROM current_version) = %(expected)s
    ON CONFLICT DO NOTHING
    RETURNING 1
), published AS (
    INSERT INTO outbox (topic, key, value, headers)
    SELECT * FROM unnest(%(topics)b::text[], %(keys)b::bytea[], %(values)b::bytea[],
                         %(headers)b::jsonb[])
    WHERE (SELECT count(*) FROM appended) = %(count)s
)
SELECT (SELECT version FROM current_version), (SELECT count(*) FROM appended)
"""


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
