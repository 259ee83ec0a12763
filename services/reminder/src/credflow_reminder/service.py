"""The reminder service layer: whose notification settings a caller reads and changes, and a
change that reschedules the holder's reminders in the same transaction."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common import access_rules
from credflow_common.auth import Principal
from credflow_common.directory_replica import DirectoryReplica
from credflow_common.errors import ForbiddenError, NotFoundError
from credflow_reminder import store
from credflow_reminder.domain import NotificationSettings


class NotificationSettingsService:
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]]) -> None:
        self.pool = pool

    async def subject(self, principal: Principal, org: UUID, user_id: UUID) -> UUID:
        """`user_id`, once the caller may see and change their settings."""
        if user_id != principal.user_id and not access_rules.administers_people(principal):
            raise ForbiddenError("only admins see and change other people's settings")
        async with self.pool.connection() as conn:
            if await DirectoryReplica().user(conn, org, user_id) is None:
                raise NotFoundError(f"no user {user_id} in this organisation")
        return user_id

    async def read(self, org: UUID, user_id: UUID) -> NotificationSettings:
        """Settings never stored read as the defaults."""
        async with self.pool.connection() as conn:
            found = await store.settings_of(conn, [(org, user_id)])
        return found.get((org, user_id), NotificationSettings())

    async def change(
        self, org: UUID, user_id: UUID, settings: NotificationSettings, changed_by: UUID
    ) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await store.save_settings(conn, org, user_id, settings, changed_by)
            await store.reschedule_holder(conn, org, user_id)
