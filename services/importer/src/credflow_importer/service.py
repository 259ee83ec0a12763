"""The importer's service layer: drafts checked against the directory replica, files attached
to their rows, and the start of finishing. Each change holds the import's row lock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid5

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.datastructures import UploadFile

from credflow_common import access_rules
from credflow_common.auth import Principal
from credflow_common.errors import ForbiddenError, NotFoundError
from credflow_common.inputs import BIDI_CONTROLS, name_problem
from credflow_common.media import MediaStore, detect_kind, object_key
from credflow_contracts.events.directory import OrganisationSettings
from credflow_contracts.events.values import MediaFile
from credflow_contracts.ids import uuid7
from credflow_importer import csvfile, domain, store
from credflow_importer.csvfile import Validation
from credflow_importer.inputs import Upload
from credflow_importer.store import Conn, ImportState, Uploader

Body = dict[str, Any]
Wanted = dict[str, list[tuple[int, UUID]]]  # file name (lower case): its rows and credentials


def require_importer(principal: Principal, org: UUID) -> None:
    principal.require_organisation(org)
    if not access_rules.administers_people(principal):
        raise ForbiddenError("only admins and users with users:manage import credentials")


def summary(report: Body) -> Body:
    """A report without its list of problems (the list of imports stays small)."""
    return {key: value for key, value in report.items() if key != "problems"}


class Imports:
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]], media: MediaStore) -> None:
        self.pool = pool
        self.media = media

    async def uploader(self, conn: Conn, org: UUID, principal: Principal) -> Uploader:
        uploader = await store.uploader(conn, org, principal.user_id)
        if uploader is None:
            raise NotFoundError(f"no organisation {org}")
        return uploader

    async def report(self, org: UUID, import_id: UUID) -> Body:
        async with self.pool.connection() as conn:
            return (await _the_import(conn, org, import_id)).report()

    async def create(self, org: UUID, principal: Principal, uploaded: Upload) -> Body:
        """A new draft import from a CSV file, with its report."""
        import_id = uuid7()
        async with self.pool.connection() as conn, conn.transaction():
            uploader = await self.uploader(conn, org, principal)
            validation, approval = await _validated(conn, org, uploaded, uploader)
            await store.create(conn, import_id, org, uploader, uploaded.file_name,
                               validation=validation, approval_required=approval)  # fmt: skip
            return (await _the_import(conn, org, import_id)).report()

    async def replace_file(
        self, org: UUID, import_id: UUID, principal: Principal, uploaded: Upload
    ) -> Body:
        """Upload the file again (a draft only); the report is redone from the new file."""
        async with self.pool.connection() as conn, conn.transaction():
            domain.check_replace((await _the_import(conn, org, import_id, lock=True)).job)
            uploader = await self.uploader(conn, org, principal)
            validation, approval = await _validated(conn, org, uploaded, uploader)
            await store.replace(conn, import_id, uploaded.file_name, uploader.date_format,
                                validation=validation, approval_required=approval)  # fmt: skip
            return (await _the_import(conn, org, import_id)).report()

    async def add_media(
        self, org: UUID, import_id: UUID, principal: Principal, uploads: Sequence[UploadFile]
    ) -> Body:
        """Attach files to the draft's rows by file name; the report then lists the rows that
        still miss a file their type requires."""
        async with self.pool.connection() as conn:
            domain.check_replace((await _the_import(conn, org, import_id)).job)
            settings = (await self.uploader(conn, org, principal)).settings
            wanted = await store.rows_by_media_file(conn, import_id)
        # The object store is called with no database connection held (its outage must not
        # starve other requests); the rows are attached afterwards, in one transaction.
        attached: list[tuple[int, MediaFile]] = []
        outcomes = [await self._put(org, upload, settings, wanted, attached) for upload in uploads]
        async with self.pool.connection() as conn, conn.transaction():
            domain.check_replace((await _the_import(conn, org, import_id, lock=True)).job)
            for row_number, media_file in attached:
                await store.attach_media(conn, import_id, row_number, media_file)
            report = (await _the_import(conn, org, import_id)).report()
        return report | {"files": outcomes}

    async def _put(
        self,
        org: UUID,
        upload: UploadFile,
        settings: OrganisationSettings,
        wanted: Wanted,
        attached: list[tuple[int, MediaFile]],
    ) -> Body:
        """Store one file for the rows that name it (adding them to `attached`)."""
        name = upload.filename or ""
        problem = name_problem(name)
        if problem:
            shown = "".join(c for c in name if c not in BIDI_CONTROLS)
            return {"file": shown, "outcome": "rejected", "code": "invalid_name",
                    "message": f"the file name {problem}"}  # fmt: skip
        rows = wanted.get(name.lower(), [])
        if not rows:
            return {"file": name, "outcome": "unmatched", "code": "no_row",
                    "message": "no row names this file in media_file"}  # fmt: skip
        data = await upload.read(settings.max_media_bytes + 1)
        if len(data) > settings.max_media_bytes:
            return {"file": name, "outcome": "rejected", "code": "file_too_large",
                    "message": f"{max(upload.size or 0, len(data)):,} bytes; at most "
                    f"{settings.max_media_bytes:,} are accepted"}  # fmt: skip
        kind = detect_kind(data[:16])
        if kind is None or kind not in settings.allowed_media_kinds:
            allowed = ", ".join(k.upper() for k in settings.allowed_media_kinds)
            return {"file": name, "outcome": "rejected", "code": "unsupported_kind",
                    "message": f"not a {allowed} file (its contents were checked)"}  # fmt: skip
        for row_number, credential_id in rows:
            # One object per credential, at the key the submission service serves it from;
            # a deterministic id, so attaching the same file again overwrites it.
            media_id = uuid5(credential_id, f"media:{name.lower()}")
            saved = await self.media.put(object_key(org, credential_id, media_id), data, kind)
            attached.append((row_number, MediaFile(
                media_id=media_id, file_name=name, kind=kind, content_type=saved.content_type,
                size_bytes=saved.size_bytes, sha256=saved.sha256,
            )))  # fmt: skip
        return {"file": name, "outcome": "attached", "rows": [number for number, _ in rows]}

    async def set_media_optional(self, org: UUID, import_id: UUID, optional: bool) -> Body:
        async with self.pool.connection() as conn, conn.transaction():
            domain.check_replace((await _the_import(conn, org, import_id, lock=True)).job)
            await store.set_media_optional(conn, import_id, optional)
            return (await _the_import(conn, org, import_id)).report()

    async def finish(self, org: UUID, import_id: UUID) -> Body:
        """Start turning every valid row into a credential; the answer shows the progress."""
        async with self.pool.connection() as conn, conn.transaction():
            if domain.check_finish((await _the_import(conn, org, import_id, lock=True)).job):
                await store.start_finishing(conn, import_id)
            return (await _the_import(conn, org, import_id)).report()


async def _the_import(conn: Conn, org: UUID, import_id: UUID, lock: bool = False) -> ImportState:
    state = await store.get(conn, org, import_id, for_update=lock)
    if state is None:
        raise NotFoundError("no such import")
    return state


async def _validated(
    conn: Conn, org: UUID, upload: Upload, uploader: Uploader
) -> tuple[Validation, bool]:
    parsed = csvfile.read(upload.head, upload.size)
    facts = await store.directory_facts(conn, org, uploader.settings, parsed.emails())
    validation = csvfile.check(parsed, uploader.date_format, facts.directory)
    types = {row.credential_type_id for row in validation.valid}
    return validation, facts.approval_required(types)
