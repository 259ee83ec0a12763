"""The directory's service layer: load an entity, decide, check its references, store its events
and snapshot, all in the command's transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

from credflow_common import requests
from credflow_common.requests import Body, Command, Conn
from credflow_common.service import ServiceContext
from credflow_contracts.events.base import Event
from credflow_contracts.events.directory import (
    CredentialTypeState,
    GroupState,
    OrganisationCreated,
    RequirementState,
    UserState,
)
from credflow_contracts.ids import uuid7
from credflow_directory import domain
from credflow_directory.domain import InvalidError, NotFoundError
from credflow_directory.inputs import OrganisationInput, default_settings
from credflow_directory.store import DirectoryStore
from credflow_directory.sync import SyncReport, Upload, sync_users

Model = TypeVar("Model", bound=domain.Snapshot)
Check = Callable[[Conn, Any], Awaitable[None]]


@dataclass(frozen=True)
class Entity(Generic[Model]):
    """One entity of an organisation: its kind, id and snapshot model."""

    organisation_id: UUID
    kind: str
    entity_id: UUID | str
    model: type[Model]

    @property
    def name(self) -> str:
        return self.kind.replace("_", " ")


class Directory:
    def __init__(self, context: ServiceContext) -> None:
        self.pool = context.pool
        self.store = DirectoryStore(context.event_store)

    # -- commands -------------------------------------------------------------------------------

    async def change(
        self,
        command: Command,
        entity: Entity[Model],
        decide: Callable[[Model | None], Sequence[Event]],
        check: Check | None = None,
    ) -> Body:
        """Load `entity`, decide, check the new state's references, store events + snapshot."""
        org = entity.organisation_id

        async def work(conn: Conn) -> tuple[Body, Sequence[Any]]:
            await self.organisation(conn, org)
            current, version = await self.store.get(
                conn, org, entity.kind, entity.entity_id, entity.model
            )
            events = decide(current)
            state = domain.fold(current, events)
            if check is not None and events and state is not None:
                await check(conn, state)
            recorded = await self.store.save(
                conn, org, entity.kind, entity.entity_id,
                expected_version=version, events=events, state=state, metadata=command.metadata,
            )  # fmt: skip
            body = state.model_dump(mode="json") if state is not None else {"removed": True}
            return body, recorded

        return await requests.run(self.pool, command, work)

    async def create_organisation(self, command: Command, body: OrganisationInput) -> Body:
        org = command.organisation_id
        settings = default_settings(body.settings)
        admin = UserState(
            user_id=uuid7(), email=body.admin.email, name=body.admin.name, status="active",
            roles=["admin"], permissions=["users:manage"],
        )  # fmt: skip

        async def work(conn: Conn) -> tuple[Body, Sequence[Any]]:
            existing, _ = await self.store.get(conn, org, "organisation", org, OrganisationCreated)
            events = domain.create_organisation(
                existing.settings if existing else None, org, body.name, settings
            )
            recorded = await self.store.save(
                conn, org, "organisation", org,
                expected_version=0, events=events, state=events[0], metadata=command.metadata,
            )  # fmt: skip
            recorded += await self.store.save(
                conn, org, "user", admin.user_id, expected_version=0,
                events=domain.create_user(org, None, admin), state=admin,
                metadata=command.metadata,
            )  # fmt: skip
            return {"organisation_id": str(org), "admin_user_id": str(admin.user_id)}, recorded

        return await requests.run(self.pool, command, work)

    async def add_requirement(self, command: Command, new: RequirementState) -> Body:
        org = command.organisation_id

        async def work(conn: Conn) -> tuple[Body, Sequence[Any]]:
            await self.organisation(conn, org)
            credential_type, _ = await self.store.get(
                conn, org, "credential_type", new.credential_type_id, CredentialTypeState
            )
            if new.company_id is not None:
                await self.exists(conn, org, "company", new.company_id, "company_id")
            if new.group_id is not None:
                await self.exists(conn, org, "group", new.group_id, "group_id")
            target = new.model_dump(exclude={"requirement_id"})
            existing = await self.store.select(conn, org, "requirement", RequirementState)
            same = next((r.requirement_id for r in existing
                         if r.model_dump(exclude={"requirement_id"}) == target), None)  # fmt: skip
            events = domain.add_requirement(org, new, credential_type, same)
            recorded = await self.store.save(
                conn, org, "requirement", new.requirement_id,
                expected_version=0, events=events, state=new, metadata=command.metadata,
            )  # fmt: skip
            return new.model_dump(mode="json"), recorded

        return await requests.run(self.pool, command, work)

    async def sync_users(self, command: Command, upload: Upload) -> SyncReport:
        async with self.pool.connection() as conn, conn.transaction():
            await self.organisation(conn, command.organisation_id)
            return await sync_users(
                conn, self.store, command.organisation_id, upload, command.metadata
            )

    # -- reads ----------------------------------------------------------------------------------

    async def find(self, entity: Entity[Model]) -> Model | None:
        async with self.pool.connection() as conn:
            found, _ = await self.store.get(
                conn, entity.organisation_id, entity.kind, entity.entity_id, entity.model
            )
        return found

    async def one(self, entity: Entity[Model]) -> Body:
        found = await self.find(entity)
        if found is None:
            raise NotFoundError(f"no such {entity.name}")
        return found.model_dump(mode="json")

    async def credential_type_ids(self, org: UUID) -> set[UUID]:
        async with self.pool.connection() as conn:
            types = await self.store.select(
                conn, org, "credential_type", CredentialTypeState, limit=100_000
            )
        return {t.credential_type_id for t in types}

    async def many(
        self,
        org: UUID,
        kind: str,
        model: type[Model],
        *,
        where: str = "",
        params: Sequence[Any] = (),
        limit: int = 100_000,
        after: str | None = None,
    ) -> list[Body]:
        async with self.pool.connection() as conn:
            found = await self.store.select(
                conn, org, kind, model, where=where, params=params, limit=limit, after=after
            )
        return [item.model_dump(mode="json") for item in found]

    # -- references -----------------------------------------------------------------------------

    async def organisation(self, conn: Conn, org: UUID) -> tuple[OrganisationCreated, int]:
        found, version = await self.store.get(conn, org, "organisation", org, OrganisationCreated)
        if found is None:
            raise NotFoundError(f"no organisation {org}")
        return found, version

    async def exists(self, conn: Conn, org: UUID, kind: str, entity_id: UUID, field: str) -> None:
        if not await self.store.exists(conn, org, kind, entity_id):
            raise InvalidError(f"no such {kind.replace('_', ' ')}", field)

    def user_references(self, org: UUID) -> Check:
        """A user's manager, company and groups exist in this organisation."""

        async def check(conn: Conn, user: UserState) -> None:
            if user.manager_id is not None:
                await self.exists(conn, org, "user", user.manager_id, "manager_id")
            if user.company_id is not None:
                await self.exists(conn, org, "company", user.company_id, "company_id")
            for index, group_id in enumerate(user.group_ids):
                await self.exists(conn, org, "group", group_id, f"group_ids.{index}")

        return check

    def credential_type_references(self, org: UUID) -> Check:
        """Its internal equivalent is another credential type of this organisation."""

        async def check(conn: Conn, kind: CredentialTypeState) -> None:
            equivalent = kind.internal_equivalent_id
            if equivalent is not None:
                if equivalent == kind.credential_type_id:
                    raise InvalidError(
                        "a type cannot be its own equivalent", "internal_equivalent_id"
                    )
                await self.exists(
                    conn, org, "credential_type", equivalent, "internal_equivalent_id"
                )

        return check

    def group_references(self, org: UUID) -> Check:
        async def check(conn: Conn, group: GroupState) -> None:
            for index, admin_id in enumerate(group.admin_ids):
                await self.exists(conn, org, "user", admin_id, f"admin_ids.{index}")

        return check

    def reviewer_group(self, org: UUID, group_id: UUID | None) -> Check:
        async def check(conn: Conn, _: OrganisationCreated) -> None:
            if group_id is not None:
                await self.exists(conn, org, "group", group_id, "reviewer_group_id")

        return check
