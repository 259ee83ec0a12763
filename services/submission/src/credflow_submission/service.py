"""The submission service layer: loads a credential, checks permissions against the directory
replica, decides, and appends the events in one transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from credflow_common.auth import Principal
from credflow_common.directory_replica import BatchReplica, DirectoryReplica
from credflow_common.eventstore import EventStore, Metadata, RecordedEvent
from credflow_contracts.events.directory import OrganisationSettings, UserState
from credflow_submission import domain
from credflow_submission.domain import (
    Command,
    Credential,
    HolderInfo,
    InvalidError,
    NotFoundError,
    TypeRules,
)

Conn = AsyncConnection[Any]


class ForbiddenError(domain.CredentialError):
    status = 403


def stream_id(credential_id: UUID) -> str:
    return f"credential-{credential_id}"


@dataclass(frozen=True)
class Loaded:
    state: Credential | None
    version: int


async def load(store: EventStore, conn: Conn, credential_id: UUID) -> Loaded:
    recorded = await store.load(conn, stream_id(credential_id))
    return Loaded(domain.fold([r.event for r in recorded]), len(recorded))


_lookups_in_request: ContextVar[BatchReplica | None] = ContextVar(
    "lookups_in_request", default=None
)


@contextmanager
def remembering_lookups() -> Iterator[None]:
    """Within one request, read each replica fact once (a command asks for the organisation's
    settings up to three times)."""
    token = _lookups_in_request.set(BatchReplica())
    try:
        yield
    finally:
        _lookups_in_request.reset(token)


class Access:
    """Who may do what with whose credentials (PRODUCT.md, "Submission")."""

    def __init__(self, replica: DirectoryReplica) -> None:
        self._replica = replica

    @property
    def replica(self) -> DirectoryReplica:
        """The request's remembering replica inside `remembering_lookups()`."""
        return _lookups_in_request.get() or self._replica

    async def preload(self, conn: Conn, org: UUID, user_id: UUID, type_id: UUID) -> None:
        """Read the settings, the user and the type a new credential needs in one query."""
        remembering = _lookups_in_request.get()
        if remembering is not None:
            await remembering.preload(conn, org, [user_id], [type_id], with_admins=False)

    async def settings(self, conn: Conn, org: UUID) -> OrganisationSettings:
        settings = await self.replica.settings(conn, org)
        if settings is None:
            raise NotFoundError(f"no organisation {org}")
        return settings

    async def holder(self, conn: Conn, org: UUID, holder_id: UUID) -> UserState:
        holder = await self.replica.user(conn, org, holder_id)
        if holder is None:
            raise InvalidError("no such user", "body.holder_id")
        return holder

    async def can_manage(self, conn: Conn, principal: Principal, holder: UserState) -> bool:
        """May `principal` add, edit or delete `holder`'s credentials?"""
        if principal.can("users:manage") or principal.has_role("admin"):
            return True
        if principal.has_role("reviewer"):
            return True
        if principal.has_role("manager") and holder.manager_id == principal.user_id:
            return True
        if holder.user_id == principal.user_id:
            settings = await self.settings(conn, principal.organisation_id)
            return settings.credential_management == "self_service"
        return False

    async def may_manage_anyone(self, conn: Conn, principal: Principal) -> bool:
        """Has `principal` the right to manage any credential at all (their own included)?"""
        if principal.can("users:manage") or principal.has_role("admin", "reviewer", "manager"):
            return True
        settings = await self.settings(conn, principal.organisation_id)
        return settings.credential_management == "self_service"

    async def require_manage(self, conn: Conn, principal: Principal, holder: UserState) -> None:
        if not await self.can_manage(conn, principal, holder):
            if holder.user_id == principal.user_id:
                raise ForbiddenError(
                    "this organisation manages credentials for its workers: ask an admin, "
                    "your manager or a reviewer"
                )
            raise ForbiddenError("you may not manage this person's credentials")

    async def can_read(self, conn: Conn, principal: Principal, holder_id: UUID) -> bool:
        if holder_id == principal.user_id:
            return True
        if principal.can("users:manage") or principal.has_role(
            "admin", "reviewer", "client_viewer"
        ):
            return True
        holder = await self.replica.user(conn, principal.organisation_id, holder_id)
        return bool(
            holder and principal.has_role("manager") and holder.manager_id == principal.user_id
        )


async def rules_for(replica: DirectoryReplica, conn: Conn, org: UUID, type_id: UUID) -> TypeRules:
    credential_type = await replica.credential_type(conn, org, type_id)
    if credential_type is None:
        raise InvalidError("no such credential type", "body.credential_type_id")
    return TypeRules(
        expires=credential_type.expires,
        default_validity_months=credential_type.default_validity_months,
        archived=credential_type.archived,
        media_required=credential_type.media_required,
    )


async def execute(
    store: EventStore,
    conn: Conn,
    credential_id: UUID,
    command: Command,
    metadata: Metadata,
    expected_version: int | None,
    rules: TypeRules | None = None,
    holder: HolderInfo | None = None,
    loaded: Loaded | None = None,
) -> tuple[Credential | None, int, Sequence[RecordedEvent]]:
    """Decide and append. `expected_version` (from If-Match) must match the stream's."""
    loaded = loaded or await load(store, conn, credential_id)
    version = loaded.version if expected_version is None else expected_version
    events = domain.decide(command, loaded.state, rules, holder)
    recorded = await store.append(conn, stream_id(credential_id), version, events, metadata)
    state = domain.fold(list(events), loaded.state)
    return state, version + len(recorded), recorded
