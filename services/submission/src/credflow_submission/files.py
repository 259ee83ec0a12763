"""A command's files: checked and put in object storage before the command's transaction.

The object store is called while no database connection is held, so a slow or lost object
store never starves requests without files of the pool's connections; its outage answers 503
to the requests that carry files, and only to them. Files of a command that is then refused
are queued for deletion (`media_deletions`), as a deleted credential's are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.datastructures import UploadFile

from credflow_common import idempotency
from credflow_common.errors import InvalidError, TooLargeError, UnsupportedKindError
from credflow_common.eventstore import EventStore
from credflow_common.inputs import name_problem
from credflow_common.media import MediaStore, detect_kind, object_key
from credflow_common.outages import OUTAGE_ERRORS
from credflow_common.requests import Command
from credflow_contracts.events.directory import OrganisationSettings
from credflow_contracts.events.values import MediaFile
from credflow_contracts.ids import uuid7
from credflow_submission.access import Access
from credflow_submission.domain import NotFoundError
from credflow_submission.store import load

log = structlog.get_logger("credflow.submission")


class Files:
    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        store: EventStore,
        access: Access,
        media: MediaStore,
    ) -> None:
        self.pool = pool
        self.store = store
        self.access = access
        self.media = media

    async def stage(
        self,
        command: Command,
        credential_id: UUID,
        files: Sequence[UploadFile],
        *,
        holder_id: UUID | None = None,
    ) -> list[MediaFile]:
        """Check the caller may manage the holder's credentials (a new credential's `holder_id`,
        else the existing credential's holder), then check and store each file. A repeated
        idempotency key stores nothing: its first outcome will be answered."""
        if not files:
            return []
        org, key = command.organisation_id, command.idempotency_key
        async with self.pool.connection() as conn:
            if key is not None and await idempotency.earlier_outcome(conn, command.caller, key):
                return []
            settings = await self.access.settings(conn, org)
            if holder_id is None:
                state = (await load(self.store, conn, credential_id)).state
                if state is None or state.organisation_id != org:
                    raise NotFoundError("no such credential")
                holder_id = state.holder_id
            holder = await self.access.holder(conn, org, holder_id)
            await self.access.require_manage(conn, command.principal, holder)
        for index, upload in enumerate(files):
            problem = name_problem(upload.filename or "")
            if problem:
                raise InvalidError(f"the file name {problem}", f"files.{index}")
        stored: list[MediaFile] = []
        try:
            for index, upload in enumerate(files):
                stored.append(await self._put(org, credential_id, settings, index, upload))
        except BaseException:
            await self.discard(org, credential_id, stored)
            raise
        return stored

    async def _put(
        self,
        org: UUID,
        credential_id: UUID,
        settings: OrganisationSettings,
        index: int,
        upload: UploadFile,
    ) -> MediaFile:
        where = f"files.{index}"
        name = upload.filename or "the file"
        data = await upload.read(settings.max_media_bytes + 1)
        if len(data) > settings.max_media_bytes:
            size = max(upload.size or 0, len(data))
            raise TooLargeError(f"{name} has {size:,} bytes; at most "
                             f"{settings.max_media_bytes:,} are accepted", where)  # fmt: skip
        kind = detect_kind(data[:16])
        if kind is None or kind not in settings.allowed_media_kinds:
            allowed = ", ".join(k.upper() for k in settings.allowed_media_kinds)
            raise UnsupportedKindError(f"{name} is not a {allowed} file (its contents were "
                             "checked, not its name)", where)  # fmt: skip
        media_id = uuid7()
        saved = await self.media.put(object_key(org, credential_id, media_id), data, kind)
        return MediaFile(
            media_id=media_id,
            file_name=upload.filename or f"{media_id}.{kind}",
            kind=kind,
            content_type=saved.content_type,
            size_bytes=saved.size_bytes,
            sha256=saved.sha256,
        )

    async def discard(self, org: UUID, credential_id: UUID, stored: Sequence[MediaFile]) -> None:
        """Queue the objects of a refused command for deletion, then sweep. Best effort: in an
        outage of the database they stay behind (unreferenced, under the organisation's key)."""
        if not stored:
            return
        keys = [object_key(org, credential_id, m.media_id) for m in stored]
        with contextlib.suppress(*OUTAGE_ERRORS):
            async with self.pool.connection() as conn, conn.transaction():
                await self.queue_deletions(conn, keys)
            await self.sweep()

    async def queue_deletions(self, conn: AsyncConnection[Any], keys: Sequence[str]) -> None:
        """Queue objects for deletion in the caller's transaction (`sweep` removes them)."""
        if keys:
            await conn.cursor().executemany(
                "INSERT INTO media_deletions (object_key) VALUES (%s) ON CONFLICT DO NOTHING",
                [(key,) for key in keys],
            )

    async def sweep(self) -> None:
        """Remove objects whose deletion was committed; failures stay queued for later."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute("SELECT object_key FROM media_deletions LIMIT 1000")
            for (key,) in await cursor.fetchall():
                try:
                    await self.media.remove(key)
                except Exception as exc:  # storage unavailable: keep the row for the next sweep
                    log.warning("could not delete a file yet", key=key, error=str(exc))
                    continue
                await conn.execute("DELETE FROM media_deletions WHERE object_key = %s", (key,))
            await conn.commit()
