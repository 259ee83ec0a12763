"""Who may do what with whose credentials: the directory replica's facts, put to the shared
rules of `credflow_common.access_rules`.

One `Access` serves one command (or one read) over one replica: a command's replica is a
`BatchReplica`, so each fact (the organisation's settings, the holder, the type) is read once
however often the command asks for it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from credflow_common import access_rules
from credflow_common.auth import Principal
from credflow_common.directory_replica import BatchReplica, DirectoryReplica
from credflow_common.errors import ForbiddenError as ForbiddenError  # re-exported
from credflow_contracts.events.directory import OrganisationSettings, UserState
from credflow_submission.domain import InvalidError, NotFoundError, TypeRules

Conn = AsyncConnection[Any]


class Access:
    def __init__(self, replica: DirectoryReplica) -> None:
        self.replica = replica

    @classmethod
    def for_command(cls) -> Access:
        return cls(BatchReplica())

    async def preload(self, conn: Conn, org: UUID, user_id: UUID, type_id: UUID) -> None:
        """Read the settings, the user and the type a new credential needs in one query."""
        if isinstance(self.replica, BatchReplica):
            await self.replica.preload(conn, org, [user_id], [type_id], with_admins=False)

    async def settings(self, conn: Conn, org: UUID) -> OrganisationSettings:
        settings = await self.replica.settings(conn, org)
        if settings is None:
            raise NotFoundError(f"no organisation {org}")
        return settings

    async def holder(self, conn: Conn, org: UUID, holder_id: UUID) -> UserState:
        holder = await self.replica.user(conn, org, holder_id)
        if holder is None:
            raise InvalidError("no such user", "holder_id")
        return holder

    async def rules(self, conn: Conn, org: UUID, type_id: UUID) -> TypeRules:
        return await rules_for(self.replica, conn, org, type_id)

    async def can_manage(self, conn: Conn, principal: Principal, holder: UserState) -> bool:
        """May `principal` add, edit or delete `holder`'s credentials?"""
        management = (await self.settings(conn, principal.organisation_id)).credential_management
        return access_rules.may_manage_credentials_of(
            principal, holder.user_id, holder.manager_id, management
        )

    async def may_manage_anyone(self, conn: Conn, principal: Principal) -> bool:
        """Has `principal` the right to manage any credential at all (their own included)?"""
        management = (await self.settings(conn, principal.organisation_id)).credential_management
        return access_rules.may_manage_any_credentials(principal, management)

    async def require_manage(self, conn: Conn, principal: Principal, holder: UserState) -> None:
        if not await self.can_manage(conn, principal, holder):
            if holder.user_id == principal.user_id:
                raise ForbiddenError(
                    "this organisation manages credentials for its workers: ask an admin, "
                    "your manager or a reviewer"
                )
            raise ForbiddenError("you may not manage this person's credentials")

    async def can_read(self, conn: Conn, principal: Principal, holder_id: UUID) -> bool:
        if holder_id == principal.user_id or access_rules.sees_everyone(principal):
            return True
        holder = await self.replica.user(conn, principal.organisation_id, holder_id)
        manager_id = holder.manager_id if holder else None
        return access_rules.may_read_credentials_of(principal, holder_id, manager_id)


async def rules_for(replica: DirectoryReplica, conn: Conn, org: UUID, type_id: UUID) -> TypeRules:
    credential_type = await replica.credential_type(conn, org, type_id)
    if credential_type is None:
        raise InvalidError("no such credential type", "credential_type_id")
    return TypeRules(
        expires=credential_type.expires,
        default_validity_months=credential_type.default_validity_months,
        archived=credential_type.archived,
        media_required=credential_type.media_required,
    )
