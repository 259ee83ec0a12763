"""A credential's stream in the event store: load it, decide on it, append the decision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from credflow_common.eventstore import EventStore, Metadata, RecordedEvent
from credflow_submission import domain
from credflow_submission.domain import Command, Credential, HolderInfo, TypeRules

Conn = AsyncConnection[Any]


def stream_id(credential_id: UUID) -> str:
    return f"credential-{credential_id}"


@dataclass(frozen=True)
class Loaded:
    state: Credential | None
    version: int


async def load(store: EventStore, conn: Conn, credential_id: UUID) -> Loaded:
    recorded = await store.load(conn, stream_id(credential_id))
    return Loaded(domain.fold([r.event for r in recorded]), len(recorded))


@dataclass(frozen=True)
class Decision:
    """What a command is decided with, besides the credential's stream."""

    expected_version: int | None = None  # from If-Match: must match the stream's
    rules: TypeRules | None = None
    holder: HolderInfo | None = None


async def execute(
    store: EventStore,
    conn: Conn,
    credential_id: UUID,
    command: Command,
    metadata: Metadata,
    *,
    loaded: Loaded | None = None,
    decision: Decision = Decision(),
) -> tuple[Credential | None, int, Sequence[RecordedEvent]]:
    """Decide on the credential (`loaded`, or read now) and append the events to its stream."""
    loaded = loaded or await load(store, conn, credential_id)
    version = loaded.version if decision.expected_version is None else decision.expected_version
    events = domain.decide(command, loaded.state, decision.rules, decision.holder)
    recorded = await store.append(conn, stream_id(credential_id), version, events, metadata)
    state = domain.fold(list(events), loaded.state)
    return state, version + len(recorded), recorded
