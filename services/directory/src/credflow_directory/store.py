"""The directory's storage: entity snapshots beside their event streams, in one transaction.

Each entity is a stream `<kind>-<id>` in the event store; `entities` holds its latest snapshot
and version, for reads, uniqueness (emails, type names) and optimistic concurrency.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar
from uuid import UUID

from psycopg import AsyncConnection, errors
from pydantic import BaseModel

from credflow_common.auth import Standing
from credflow_common.directory_replica import standing_of
from credflow_common.eventstore import EventStore, Metadata, RecordedEvent
from credflow_contracts.events.base import Event
from credflow_directory.domain import ConflictError

Model = TypeVar("Model", bound=BaseModel)


async def user_standing(conn: AsyncConnection[Any], org: UUID, user_id: UUID) -> Standing | None:
    """A person's status, roles and permissions (the service definition's `user_standing`)."""
    cursor = await conn.execute(
        "SELECT state->>'status', state->'roles', state->'permissions' FROM entities"
        " WHERE organisation_id = %s AND kind = 'user' AND id = %s",
        (org, str(user_id)),
    )
    row = await cursor.fetchone()
    return standing_of(*row) if row else None


async def people_of(conn: AsyncConnection[Any], org: UUID, user_ids: Sequence[UUID]) -> list[UUID]:
    """Those of `user_ids` who are people of `org`, in their order."""
    cursor = await conn.execute(
        "SELECT id FROM entities WHERE organisation_id = %s AND kind = 'user' AND id = ANY(%s)",
        (org, [str(user_id) for user_id in user_ids]),
    )
    known = {UUID(str(row[0])) for row in await cursor.fetchall()}
    return [user_id for user_id in user_ids if user_id in known]


UNIQUE_FIELDS = {
    "users_email_unique": ("email", "a user with this email already exists"),
    "credential_types_name_unique": (
        "name",
        "a credential type with this name already exists",
    ),
}


class DirectoryStore:
    def __init__(self, event_store: EventStore) -> None:
        self.event_store = event_store

    async def get(
        self, conn: AsyncConnection[Any], org: UUID, kind: str, entity_id: str | UUID,
        model: type[Model],
    ) -> tuple[Model | None, int]:  # fmt: skip
        cursor = await conn.execute(
            "SELECT state, version FROM entities WHERE organisation_id = %s AND kind = %s"
            " AND id = %s",
            (org, kind, str(entity_id)),
        )
        row = await cursor.fetchone()
        if row is None:
            return None, 0
        return model.model_validate(row[0]), int(row[1])

    async def exists(
        self, conn: AsyncConnection[Any], org: UUID, kind: str, entity_id: str | UUID
    ) -> bool:
        cursor = await conn.execute(
            "SELECT 1 FROM entities WHERE organisation_id = %s AND kind = %s AND id = %s",
            (org, kind, str(entity_id)),
        )
        return await cursor.fetchone() is not None

    async def select(
        self, conn: AsyncConnection[Any], org: UUID, kind: str, model: type[Model], *,
        where: str = "", params: Sequence[Any] = (), limit: int = 1000, after: str | None = None,
    ) -> list[Model]:  # fmt: skip
        """Entities of one kind, ordered by id; `where` is extra SQL on `state` (trusted)."""
        clauses = ["organisation_id = %s", "kind = %s"]
        values: list[Any] = [org, kind]
        if where:
            clauses.append(where)
            values.extend(params)
        if after is not None:
            clauses.append("id > %s")
            values.append(after)
        cursor = await conn.execute(
            f"SELECT state FROM entities WHERE {' AND '.join(clauses)} ORDER BY id LIMIT %s",  # noqa: S608 - clauses are ours
            (*values, limit),
        )
        return [model.model_validate(state) for (state,) in await cursor.fetchall()]

    async def find_id(
        self, conn: AsyncConnection[Any], org: UUID, kind: str, field: str, value: str
    ) -> str | None:
        """The id of the entity whose `field` equals `value`, ignoring case."""
        cursor = await conn.execute(
            "SELECT id FROM entities WHERE organisation_id = %s AND kind = %s"
            " AND lower(state->>%s) = lower(%s)",
            (org, kind, field, value),
        )
        row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def save(
        self, conn: AsyncConnection[Any], org: UUID, kind: str, entity_id: str | UUID, *,
        expected_version: int, events: Sequence[Event], state: BaseModel | None,
        metadata: Metadata,
    ) -> list[RecordedEvent]:  # fmt: skip
        """Append `events` to the entity's stream and store its new snapshot (None deletes it)."""
        if not events:
            return []
        recorded = await self.event_store.append(
            conn, f"{kind}-{entity_id}", expected_version, events, metadata
        )
        version = expected_version + len(events)
        try:
            async with conn.transaction():
                if state is None:
                    await conn.execute(
                        "DELETE FROM entities WHERE organisation_id = %s AND kind = %s AND id = %s",
                        (org, kind, str(entity_id)),
                    )
                else:
                    await conn.execute(
                        "INSERT INTO entities (organisation_id, kind, id, version, state)"
                        " VALUES (%s, %s, %s, %s, %s::jsonb)"
                        " ON CONFLICT (organisation_id, kind, id) DO UPDATE"
                        " SET version = EXCLUDED.version, state = EXCLUDED.state,"
                        " updated_at = now() WHERE entities.version = %s",
                        (org, kind, str(entity_id), version, state.model_dump_json(),
                         expected_version),
                    )  # fmt: skip
        except errors.UniqueViolation as exc:
            constraint = exc.diag.constraint_name or ""
            field, message = UNIQUE_FIELDS.get(constraint, (None, "already exists"))
            raise ConflictError(message, field) from exc
        return recorded
