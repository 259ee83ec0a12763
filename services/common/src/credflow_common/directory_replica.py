"""A local, read-only replica of the directory, kept from `credflow.directory`.

Services that need reference data (users, managers, credential types, settings, groups,
companies, requirements) consume the directory's events into these tables instead of calling
the directory service. Events carry whole snapshots, so applying one is an upsert; applying it
again changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from psycopg import AsyncConnection
from pydantic import BaseModel

from credflow_common.auth import Standing
from credflow_common.consumer import ConsumerSpec, Delivery
from credflow_common.erasure import Eraser
from credflow_contracts.events.directory import (
    AssessmentAnswered,
    AssessmentDefined,
    CompanyCreated,
    CompanyState,
    CompanyUpdated,
    CredentialTypeCreated,
    CredentialTypeState,
    CredentialTypeUpdated,
    GroupCreated,
    GroupState,
    GroupUpdated,
    OrganisationCreated,
    OrganisationSettings,
    OrganisationSettingsChanged,
    PersonErased,
    RequirementAdded,
    RequirementRemoved,
    RequirementState,
    UserCreated,
    UserState,
    UserUpdated,
)
from credflow_contracts.topics import DIRECTORY

MIGRATIONS = Path(__file__).resolve().parent / "replica_migrations"
Model = TypeVar("Model", bound=BaseModel)
Conn = AsyncConnection[Any]


async def apply_directory_events(
    conn: Conn, deliveries: Sequence[Delivery], erase: Eraser | None = None
) -> None:
    """Apply the directory's events to the replica; a `PersonErased` calls `erase` (the
    service's part of the erasure, `credflow_common.erasure`) in the same transaction."""
    for delivery in deliveries:
        event, org = delivery.envelope.event, delivery.envelope.tenant_id
        match event:
            case OrganisationCreated():
                await conn.execute(
                    "INSERT INTO replica_organisations VALUES (%s, %s, %s::jsonb)"
                    " ON CONFLICT (organisation_id) DO UPDATE SET name = EXCLUDED.name,"
                    " settings = EXCLUDED.settings",
                    (org, event.name, event.settings.model_dump_json()),
                )
            case OrganisationSettingsChanged():
                await conn.execute(
                    "UPDATE replica_organisations SET settings = %s::jsonb"
                    " WHERE organisation_id = %s",
                    (event.settings.model_dump_json(), org),
                )
            case UserCreated() | UserUpdated():
                user = event.user
                await conn.execute(
                    "INSERT INTO replica_users VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb)"
                    " ON CONFLICT (organisation_id, user_id) DO UPDATE SET"
                    " email_lower = EXCLUDED.email_lower, status = EXCLUDED.status,"
                    " manager_id = EXCLUDED.manager_id, company_id = EXCLUDED.company_id,"
                    " state = EXCLUDED.state",
                    (
                        org,
                        user.user_id,
                        user.email.lower(),
                        user.status,
                        user.manager_id,
                        user.company_id,
                        user.model_dump_json(),
                    ),
                )
            case CredentialTypeCreated() | CredentialTypeUpdated():
                await _upsert(
                    conn,
                    org,
                    "credential_type",
                    event.credential_type.credential_type_id,
                    event.credential_type,
                )
            case CompanyCreated() | CompanyUpdated():
                await _upsert(conn, org, "company", event.company.company_id, event.company)
            case GroupCreated() | GroupUpdated():
                await _upsert(conn, org, "group", event.group.group_id, event.group)
            case RequirementAdded():
                await _upsert(
                    conn, org, "requirement", event.requirement.requirement_id, event.requirement
                )
            case RequirementRemoved():
                await conn.execute(
                    "DELETE FROM replica_entities WHERE organisation_id = %s AND kind = %s"
                    " AND id = %s",
                    (org, "requirement", event.requirement_id),
                )
            case AssessmentDefined():
                await _upsert(conn, org, "assessment", event.assessment_id, event)
            case AssessmentAnswered():
                pass  # answers matter to views (projection), not to this replica
            case PersonErased():
                if erase is not None:
                    await erase(conn, event)


async def _upsert(conn: Conn, org: UUID, kind: str, entity_id: UUID, state: BaseModel) -> None:
    await conn.execute(
        "INSERT INTO replica_entities VALUES (%s, %s, %s, %s::jsonb)"
        " ON CONFLICT (organisation_id, kind, id) DO UPDATE SET state = EXCLUDED.state",
        (org, kind, entity_id, state.model_dump_json()),
    )


def replica_consumer(
    service: str, topic_prefix: str = "", erase: Eraser | None = None
) -> ConsumerSpec:
    """The consumer that keeps `service`'s replica, in its own consumer group; `erase` is the
    service's part of an erasure."""

    async def apply(conn: Conn, deliveries: Sequence[Delivery]) -> None:
        await apply_directory_events(conn, deliveries, erase)

    return ConsumerSpec(name=f"{service}.directory-replica", topics=[topic_prefix + DIRECTORY],
                        handler=apply)  # fmt: skip


async def user_standing(conn: Conn, org: UUID, user_id: UUID) -> Standing | None:
    """A person's status, roles and permissions in the replica (the `user_standing` of the
    services that keep one)."""
    cursor = await conn.execute(
        "SELECT status, state->'roles', state->'permissions' FROM replica_users"
        " WHERE organisation_id = %s AND user_id = %s",
        (org, user_id),
    )
    row = await cursor.fetchone()
    return standing_of(*row) if row else None


def standing_of(status: str, roles: list[str] | None, permissions: list[str] | None) -> Standing:
    """A standing from a user's snapshot (its `roles` and `permissions` lists)."""
    return Standing(status, frozenset(roles or ()), frozenset(permissions or ()))


class DirectoryReplica:
    """Lookups in the replica, inside the caller's connection."""

    async def settings(self, conn: Conn, org: UUID) -> OrganisationSettings | None:
        cursor = await conn.execute(
            "SELECT settings FROM replica_organisations WHERE organisation_id = %s", (org,)
        )
        row = await cursor.fetchone()
        return OrganisationSettings.model_validate(row[0]) if row else None

    async def user(self, conn: Conn, org: UUID, user_id: UUID) -> UserState | None:
        cursor = await conn.execute(
            "SELECT state FROM replica_users WHERE organisation_id = %s AND user_id = %s",
            (org, user_id),
        )
        row = await cursor.fetchone()
        return UserState.model_validate(row[0]) if row else None

    async def user_by_email(self, conn: Conn, org: UUID, email: str) -> UserState | None:
        cursor = await conn.execute(
            "SELECT state FROM replica_users WHERE organisation_id = %s AND email_lower = %s",
            (org, email.lower()),
        )
        row = await cursor.fetchone()
        return UserState.model_validate(row[0]) if row else None

    async def users_by_email(
        self, conn: Conn, org: UUID, emails: Collection[str]
    ) -> list[UserState]:
        """The users of `org` with these (lower-cased) emails, in one query."""
        cursor = await conn.execute(
            "SELECT state FROM replica_users WHERE organisation_id = %s AND email_lower = ANY(%s)",
            (org, list(emails)),
        )
        return [UserState.model_validate(state) for (state,) in await cursor.fetchall()]

    async def credential_types(self, conn: Conn, org: UUID) -> list[CredentialTypeState]:
        cursor = await conn.execute(
            "SELECT state FROM replica_entities WHERE organisation_id = %s AND kind = %s",
            (org, "credential_type"),
        )
        return [CredentialTypeState.model_validate(state) for (state,) in await cursor.fetchall()]

    async def users_with_role(self, conn: Conn, org: UUID, role: str) -> list[UserState]:
        """Active users of `org` holding `role`."""
        cursor = await conn.execute(
            "SELECT state FROM replica_users WHERE organisation_id = %s AND status = 'active'"
            " AND state->'roles' ? %s ORDER BY user_id",
            (org, role),
        )
        return [UserState.model_validate(state) for (state,) in await cursor.fetchall()]

    async def group_members(self, conn: Conn, org: UUID, group_id: UUID) -> list[UserState]:
        """Active members of a group."""
        cursor = await conn.execute(
            "SELECT state FROM replica_users WHERE organisation_id = %s AND status = 'active'"
            " AND state->'group_ids' ? %s ORDER BY user_id",
            (org, str(group_id)),
        )
        return [UserState.model_validate(state) for (state,) in await cursor.fetchall()]

    async def credential_type(
        self, conn: Conn, org: UUID, type_id: UUID
    ) -> CredentialTypeState | None:
        return await self._entity(conn, org, "credential_type", type_id, CredentialTypeState)

    async def group(self, conn: Conn, org: UUID, group_id: UUID) -> GroupState | None:
        return await self._entity(conn, org, "group", group_id, GroupState)

    async def company(self, conn: Conn, org: UUID, company_id: UUID) -> CompanyState | None:
        return await self._entity(conn, org, "company", company_id, CompanyState)

    async def requirements(self, conn: Conn, org: UUID) -> list[RequirementState]:
        cursor = await conn.execute(
            "SELECT state FROM replica_entities WHERE organisation_id = %s AND kind = %s",
            (org, "requirement"),
        )
        return [RequirementState.model_validate(state) for (state,) in await cursor.fetchall()]

    async def _entity(
        self, conn: Conn, org: UUID, kind: str, entity_id: UUID, model: type[Model]
    ) -> Model | None:
        cursor = await conn.execute(
            "SELECT state FROM replica_entities WHERE organisation_id = %s AND kind = %s"
            " AND id = %s",
            (org, kind, entity_id),
        )
        row = await cursor.fetchone()
        return model.model_validate(row[0]) if row else None


_PRELOAD = """
WITH users AS (
    SELECT state FROM replica_users WHERE organisation_id = %(org)s AND user_id = ANY(%(users)s)
), groups AS (
    SELECT id, state FROM replica_entities
    WHERE organisation_id = %(org)s AND kind = 'group'
    AND id IN (SELECT jsonb_array_elements_text(state->'group_ids')::uuid FROM users)
)
SELECT 'settings', organisation_id, settings FROM replica_organisations
WHERE organisation_id = %(org)s
UNION ALL
SELECT 'credential_type', id, state FROM replica_entities
WHERE organisation_id = %(org)s AND kind = 'credential_type' AND id = ANY(%(types)s)
UNION ALL
SELECT 'group', id, state FROM groups
UNION ALL
SELECT 'user', user_id, state FROM replica_users
WHERE organisation_id = %(org)s AND (
    user_id = ANY(%(users)s)
    OR user_id IN (SELECT (state->>'manager_id')::uuid FROM users)
    OR user_id IN (SELECT jsonb_array_elements_text(state->'admin_ids')::uuid FROM groups)
)
UNION ALL
SELECT 'admin', user_id, state FROM replica_users
WHERE %(admins)s AND organisation_id = %(org)s AND status = 'active' AND state->'roles' ? 'admin'
"""


class BatchReplica(DirectoryReplica):
    """The same lookups, remembered for one consumer batch (one transaction): handling one
    event asks for the organisation's settings, the holder and the type several times, and a
    batch of one tenant's events asks again for each event."""

    def __init__(self) -> None:
        self._memo: dict[tuple[Any, ...], Any] = {}

    async def preload(
        self,
        conn: Conn,
        org: UUID,
        user_ids: Collection[UUID],
        type_ids: Collection[UUID],
        *,
        with_admins: bool = True,
    ) -> None:
        """Remember, in one query, what work for these users and types asks for: the
        organisation's settings, the types, the users with their managers, groups and group
        admins, and (`with_admins`) the organisation's active admins."""
        cursor = await conn.execute(
            _PRELOAD,
            {"org": org, "users": list(user_ids), "types": list(type_ids), "admins": with_admins},
        )
        rows = await cursor.fetchall()
        self._memo[("settings", org)] = None
        for type_id in type_ids:
            self._memo[("entity", org, "credential_type", type_id)] = None
        for user_id in user_ids:
            self._memo[("user", org, user_id)] = None
        admins: list[UserState] = []
        for kind, entity_id, state in rows:
            if kind == "settings":
                self._memo[("settings", org)] = OrganisationSettings.model_validate(state)
            elif kind == "credential_type":
                self._memo[("entity", org, kind, entity_id)] = CredentialTypeState.model_validate(
                    state
                )
            elif kind == "group":
                self._memo[("entity", org, kind, entity_id)] = GroupState.model_validate(state)
            else:
                user = UserState.model_validate(state)
                self._memo[("user", org, entity_id)] = user
                if kind == "admin":
                    admins.append(user)
        if with_admins:
            self._memo[("role", org, "admin")] = sorted(admins, key=lambda user: user.user_id)

    async def settings(self, conn: Conn, org: UUID) -> OrganisationSettings | None:
        key = ("settings", org)
        if key not in self._memo:
            self._memo[key] = await super().settings(conn, org)
        result: OrganisationSettings | None = self._memo[key]
        return result

    async def user(self, conn: Conn, org: UUID, user_id: UUID) -> UserState | None:
        key = ("user", org, user_id)
        if key not in self._memo:
            self._memo[key] = await super().user(conn, org, user_id)
        result: UserState | None = self._memo[key]
        return result

    async def users_with_role(self, conn: Conn, org: UUID, role: str) -> list[UserState]:
        key = ("role", org, role)
        if key not in self._memo:
            self._memo[key] = await super().users_with_role(conn, org, role)
        result: list[UserState] = self._memo[key]
        return result

    async def group_members(self, conn: Conn, org: UUID, group_id: UUID) -> list[UserState]:
        key = ("members", org, group_id)
        if key not in self._memo:
            self._memo[key] = await super().group_members(conn, org, group_id)
        result: list[UserState] = self._memo[key]
        return result

    async def _entity(
        self, conn: Conn, org: UUID, kind: str, entity_id: UUID, model: type[Model]
    ) -> Model | None:
        key = ("entity", org, kind, entity_id)
        if key not in self._memo:
            self._memo[key] = await super()._entity(conn, org, kind, entity_id, model)
        result: Model | None = self._memo[key]
        return result
