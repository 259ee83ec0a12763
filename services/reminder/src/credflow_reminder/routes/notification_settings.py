"""Notification settings.

`GET`/`PUT /organisations/{org}/users/{user_id}/notification-settings` (`me` for the caller):
everyone reads and updates their own; admins and holders of `users:manage` those of others.
Settings never stored read as the defaults (on, 30/7/1 days, manager not copied).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter

from credflow_common.auth import CurrentPrincipal, Principal
from credflow_common.problems import FieldError, ProblemError
from credflow_reminder.domain import NotificationSettings
from credflow_reminder.inputs import SettingsInput
from credflow_reminder.service import NotificationSettingsService

Body = dict[str, Any]


def user_id_of(user: str) -> UUID:
    try:
        return UUID(user)
    except ValueError:
        message = "give a user id or `me`"
        raise ProblemError(422, "Request is not valid", message,
                           errors=[FieldError("path.user", message)]) from None  # fmt: skip


def build(settings: NotificationSettingsService) -> APIRouter:
    router = APIRouter(prefix="/organisations/{org}/users/{user}", tags=["notification settings"])

    async def subject(principal: Principal, org: UUID, user: str) -> UUID:
        """The path's user: `me` (the caller), or someone the caller may see."""
        principal.require_organisation(org)
        if user == "me":
            return principal.user_id
        return await settings.subject(principal, org, user_id_of(user))

    @router.get("/notification-settings")
    async def read(org: UUID, user: str, principal: CurrentPrincipal) -> Body:
        user_id = await subject(principal, org, user)
        return _body(user_id, await settings.read(org, user_id))

    @router.put("/notification-settings")
    async def update(
        org: UUID, user: str, body: SettingsInput, principal: CurrentPrincipal
    ) -> Body:
        user_id = await subject(principal, org, user)
        changed = NotificationSettings(body.enabled, tuple(body.lead_days), body.copy_manager)
        await settings.change(org, user_id, changed, principal.user_id)
        return _body(user_id, changed)

    return router


def _body(user_id: UUID, settings: NotificationSettings) -> Body:
    return {
        "user_id": str(user_id),
        "enabled": settings.enabled,
        "lead_days": list(settings.lead_days),
        "copy_manager": settings.copy_manager,
    }
