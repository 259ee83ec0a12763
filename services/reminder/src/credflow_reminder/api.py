"""The reminder service's HTTP API: notification settings.

`GET`/`PUT /organisations/{org}/users/{user_id}/notification-settings` (`me` for the caller):
everyone reads and updates their own; admins and holders of `users:manage` those of others.
Settings never stored read as the defaults (on, 30/7/1 days, manager not copied).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import Field, field_validator

from credflow_common import access_rules
from credflow_common.auth import CurrentPrincipal, Principal
from credflow_common.directory_replica import DirectoryReplica
from credflow_common.errors import ForbiddenError, InvalidError, NotFoundError
from credflow_common.inputs import Input
from credflow_common.service import ServiceContext
from credflow_reminder import domain
from credflow_reminder.schedule import reschedule_holder, settings_of

Body = dict[str, Any]


class SettingsInput(Input):
    enabled: bool = True
    lead_days: list[int] = Field(
        default_factory=lambda: list(domain.DEFAULT_LEAD_DAYS),
        max_length=10,
        description="Days before expiry to be reminded, 0 to 365 (0: on the day itself).",
    )
    copy_manager: bool = False

    @field_validator("lead_days")
    @classmethod
    def _lead_days(cls, value: list[int]) -> list[int]:
        return list(domain.valid_lead_days(value))


def build_router(context: ServiceContext) -> APIRouter:
    router = APIRouter(prefix="/organisations/{org}/users/{user}", tags=["notification settings"])

    async def subject(principal: Principal, org: UUID, user: str) -> UUID:
        principal.require_organisation(org)
        if user == "me":
            return principal.user_id
        try:
            user_id = UUID(user)
        except ValueError:
            raise InvalidError("give a user id or `me`", "path.user") from None
        if user_id != principal.user_id and not access_rules.administers_people(principal):
            raise ForbiddenError("only admins see and change other people's settings")
        async with context.pool.connection() as conn:
            if await DirectoryReplica().user(conn, org, user_id) is None:
                raise NotFoundError(f"no user {user_id} in this organisation")
        return user_id

    @router.get("/notification-settings")
    async def read(org: UUID, user: str, principal: CurrentPrincipal) -> Body:
        user_id = await subject(principal, org, user)
        async with context.pool.connection() as conn:
            found = await settings_of(conn, [(org, user_id)])
        return _body(user_id, found.get((org, user_id), domain.NotificationSettings()))

    @router.put("/notification-settings")
    async def update(
        org: UUID, user: str, body: SettingsInput, principal: CurrentPrincipal
    ) -> Body:
        user_id = await subject(principal, org, user)
        async with context.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO notification_settings (organisation_id, user_id, enabled, lead_days,"
                " copy_manager, updated_by) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (organisation_id, user_id) DO UPDATE SET enabled = EXCLUDED.enabled,"
                " lead_days = EXCLUDED.lead_days, copy_manager = EXCLUDED.copy_manager,"
                " updated_by = EXCLUDED.updated_by, updated_at = now()",
                (org, user_id, body.enabled, body.lead_days, body.copy_manager,
                 principal.user_id),
            )  # fmt: skip
            await reschedule_holder(conn, org, user_id)
        settings = domain.NotificationSettings(
            body.enabled, tuple(body.lead_days), body.copy_manager
        )
        return _body(user_id, settings)

    return router


def _body(user_id: UUID, settings: domain.NotificationSettings) -> Body:
    return {
        "user_id": str(user_id),
        "enabled": settings.enabled,
        "lead_days": list(settings.lead_days),
        "copy_manager": settings.copy_manager,
    }
