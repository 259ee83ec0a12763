"""The importer's HTTP API, under `/organisations/{org}/imports`.

- `GET /template`: the CSV template, dates in the caller's profile date format.
- `POST ""`: upload a CSV (the body as `text/csv`, or multipart with a `file` part) → a draft
  import with its report (every problem by row, column and code).
- `GET ""`, `GET /{id}`: imports and their reports, with progress once finishing.
- `GET /{id}/report.csv`: the report as CSV, one line per problem (row, column, code, message).
- `PUT /{id}/file`: upload the file again; the report is redone from it.
- `POST /{id}/media`: files (multipart `files`) for the rows that name them in `media_file`
  (capitals ignored); each file's outcome is listed. Uploading the CSV again clears them.
- `PATCH /{id}`: `{"media_optional": true}` lets the import finish with media still missing.
- `POST /{id}/finish`: every valid row becomes a credential, exactly once; pressing it again
  answers with the progress and does nothing else.

Admins and holders of `users:manage` import; others get 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID, uuid5

from fastapi import APIRouter, Query, Request, Response
from starlette.datastructures import UploadFile

from credflow_common import access_rules
from credflow_common.auth import CurrentPrincipal, Principal
from credflow_common.errors import ForbiddenError, NotFoundError
from credflow_common.inputs import Input
from credflow_common.media import MediaStore, detect_kind, object_key
from credflow_common.openapi import CSV_RESPONSE
from credflow_common.problems import FieldError, ProblemError
from credflow_common.service import ServiceContext
from credflow_common.spreadsheets import csv_text
from credflow_contracts.events.directory import OrganisationSettings
from credflow_contracts.events.values import MediaFile
from credflow_contracts.ids import uuid7
from credflow_importer import csvfile, domain, store
from credflow_importer.csvfile import Validation
from credflow_importer.store import Conn, ImportState, Uploader

Body = dict[str, Any]


class ImportChanges(Input):
    media_optional: bool


MAX_MEDIA_FILES = 1000
CSV_UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}
MEDIA_UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            }
        },
    }
}


def build_router(context: ServiceContext, media: MediaStore) -> APIRouter:
    router = APIRouter(prefix="/organisations/{org}/imports", tags=["imports"])
    pool = context.pool

    def require_importer(principal: Principal, org: UUID) -> None:
        principal.require_organisation(org)
        if not access_rules.administers_people(principal):
            raise ForbiddenError("only admins and users with users:manage import credentials")

    async def the_uploader(conn: Conn, org: UUID, principal: Principal) -> Uploader:
        uploader = await store.uploader(conn, org, principal.user_id)
        if uploader is None:
            raise NotFoundError(f"no organisation {org}")
        return uploader

    async def the_import(conn: Conn, org: UUID, import_id: UUID, lock: bool = False) -> ImportState:
        state = await store.get(conn, org, import_id, for_update=lock)
        if state is None:
            raise NotFoundError("no such import")
        return state

    async def validated(
        conn: Conn, org: UUID, upload: Upload, uploader: Uploader
    ) -> tuple[Validation, bool]:
        parsed = csvfile.read(upload.head, upload.size)
        facts = await store.directory_facts(conn, org, uploader.settings, parsed.emails())
        validation = csvfile.check(parsed, uploader.date_format, facts.directory)
        types = {row.credential_type_id for row in validation.valid}
        return validation, facts.approval_required(types)

    @router.get("/template", responses=CSV_RESPONSE)
    async def template(org: UUID, principal: CurrentPrincipal) -> Response:
        """The CSV template (header, an example row, and a guide to each column on `#` rows)."""
        require_importer(principal, org)
        async with pool.connection() as conn:
            uploader = await the_uploader(conn, org, principal)
        return Response(
            csvfile.template(uploader.date_format),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="credentials-import.csv"'},
        )

    @router.post("", status_code=201, openapi_extra=CSV_UPLOAD)
    async def upload(org: UUID, request: Request, principal: CurrentPrincipal) -> Body:
        """A new draft import from a CSV file, with its report."""
        require_importer(principal, org)
        uploaded = await read_upload(request)
        import_id = uuid7()
        async with pool.connection() as conn, conn.transaction():
            uploader = await the_uploader(conn, org, principal)
            validation, approval = await validated(conn, org, uploaded, uploader)
            await store.create(
                conn, import_id, org, uploader, uploaded.file_name, validation, approval
            )
            return (await the_import(conn, org, import_id)).report()

    @router.put("/{import_id}/file", openapi_extra=CSV_UPLOAD)
    async def replace_file(
        org: UUID, import_id: UUID, request: Request, principal: CurrentPrincipal
    ) -> Body:
        """Upload the file again (a draft only); the report is redone from the new file."""
        require_importer(principal, org)
        uploaded = await read_upload(request)
        async with pool.connection() as conn, conn.transaction():
            domain.check_replace((await the_import(conn, org, import_id, lock=True)).job)
            uploader = await the_uploader(conn, org, principal)
            validation, approval = await validated(conn, org, uploaded, uploader)
            await store.replace(
                conn, import_id, uploaded.file_name, uploader.date_format, validation, approval
            )
            return (await the_import(conn, org, import_id)).report()

    @router.get("")
    async def list_imports(org: UUID, principal: CurrentPrincipal) -> Body:
        require_importer(principal, org)
        async with pool.connection() as conn:
            imports = await store.list_for(conn, org)
        return {"items": [summary(state.report()) for state in imports]}

    @router.get("/{import_id}")
    async def get_import(
        org: UUID,
        import_id: UUID,
        principal: CurrentPrincipal,
        problems_offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        problems_limit: Annotated[
            int | None, Query(ge=0, le=100_000, description="default: every problem")
        ] = None,
    ) -> Body:
        """The report and progress; `problems_offset`/`problems_limit` page its problems (a
        20,000-row file can have as many), `problem_count` counts them all."""
        require_importer(principal, org)
        async with pool.connection() as conn:
            report = (await the_import(conn, org, import_id)).report()
        problems = report["problems"]
        end = None if problems_limit is None else problems_offset + problems_limit
        return {**report, "problem_count": len(problems),
                "problems": problems[problems_offset:end]}  # fmt: skip

    @router.get("/{import_id}/report.csv", responses=CSV_RESPONSE)
    async def report_csv(org: UUID, import_id: UUID, principal: CurrentPrincipal) -> Response:
        """The report as CSV, a line per problem: the file's own (no row), each row's by
        column and code, the rows still missing a required file, and once finishing, the rows
        the submission service refused."""
        require_importer(principal, org)
        async with pool.connection() as conn:
            report = (await the_import(conn, org, import_id)).report()
        lines = [(p["row"], p["column"], p["code"], p["message"]) for p in report["problems"]]
        if not report["media"]["optional"]:
            lines += [
                (row, "media_file", "media_missing",
                 "this row's type requires a file: upload it, or mark media optional")
                for row in report["media"]["rows_missing"]
            ]  # fmt: skip
        lines += [(r["row"], r["column"], "refused", r["message"]) for r in report["refused"]]
        return Response(
            csv_text(("row", "column", "code", "message"), lines),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="import-{import_id}.csv"'},
        )

    @router.post("/{import_id}/media", openapi_extra=MEDIA_UPLOAD)
    async def add_media(
        org: UUID, import_id: UUID, request: Request, principal: CurrentPrincipal
    ) -> Body:
        """Attach files to the draft's rows by file name; the report then lists the rows that
        still miss a file their type requires."""
        require_importer(principal, org)
        form = await request.form(max_files=MAX_MEDIA_FILES)
        uploads = [u for u in form.getlist("files") if isinstance(u, UploadFile)]
        if not uploads:
            raise ProblemError(
                422,
                "Request is not valid",
                "send the files as multipart `files` parts",
                errors=[FieldError("body.files", "field required")],
            )
        async with pool.connection() as conn:
            domain.check_replace((await the_import(conn, org, import_id)).job)
            settings = (await the_uploader(conn, org, principal)).settings
            wanted = await store.rows_by_media_file(conn, import_id)
        # The object store is called with no database connection held (its outage must not
        # starve other requests); the rows are attached afterwards, in one transaction.
        attached: list[tuple[int, MediaFile]] = []
        outcomes = [await put(org, upload, settings, wanted, attached) for upload in uploads]
        async with pool.connection() as conn, conn.transaction():
            domain.check_replace((await the_import(conn, org, import_id, lock=True)).job)
            for row_number, media_file in attached:
                await store.attach_media(conn, import_id, row_number, media_file)
            report = (await the_import(conn, org, import_id)).report()
        return report | {"files": outcomes}

    async def put(
        org: UUID,
        upload: UploadFile,
        settings: OrganisationSettings,
        wanted: dict[str, list[tuple[int, UUID]]],
        attached: list[tuple[int, MediaFile]],
    ) -> Body:
        """Store one file for the rows that name it (adding them to `attached`)."""
        name = upload.filename or ""
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
            saved = await media.put(object_key(org, credential_id, media_id), data, kind)
            attached.append((row_number, MediaFile(
                media_id=media_id, file_name=name, kind=kind, content_type=saved.content_type,
                size_bytes=saved.size_bytes, sha256=saved.sha256,
            )))  # fmt: skip
        return {"file": name, "outcome": "attached", "rows": [number for number, _ in rows]}

    @router.patch("/{import_id}")
    async def change(
        org: UUID, import_id: UUID, changes: ImportChanges, principal: CurrentPrincipal
    ) -> Body:
        require_importer(principal, org)
        async with pool.connection() as conn, conn.transaction():
            domain.check_replace((await the_import(conn, org, import_id, lock=True)).job)
            await store.set_media_optional(conn, import_id, changes.media_optional)
            return (await the_import(conn, org, import_id)).report()

    @router.post("/{import_id}/finish", status_code=202)
    async def finish(org: UUID, import_id: UUID, principal: CurrentPrincipal) -> Body:
        """Start turning every valid row into a credential; the answer shows the progress."""
        require_importer(principal, org)
        async with pool.connection() as conn, conn.transaction():
            if domain.check_finish((await the_import(conn, org, import_id, lock=True)).job):
                await store.start_finishing(conn, import_id)
            return (await the_import(conn, org, import_id)).report()

    return router


def summary(report: Body) -> Body:
    """A report without its list of problems (the list of imports stays small)."""
    return {key: value for key, value in report.items() if key != "problems"}


@dataclass(frozen=True)
class Upload:
    file_name: str
    head: bytes  # the file, or its first MAX_FILE_BYTES + 1 bytes when it is larger
    size: int  # the whole file's size, to name it when it is too large


async def read_upload(request: Request) -> Upload:
    """The uploaded file, holding at most one byte past the size limit in memory."""
    limit = csvfile.MAX_FILE_BYTES + 1
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ProblemError(
                422,
                "Request is not valid",
                "send the CSV as the `file` part",
                errors=[FieldError("body.file", "field required")],
            )
        head = await upload.read(limit)
        return Upload(upload.filename or "import.csv", head, upload.size or len(head))
    if not content_type.startswith(("text/csv", "application/csv", "application/octet-stream")):
        raise ProblemError(
            415,
            "Unsupported media type",
            "send the CSV as text/csv, or as multipart/form-data with a `file` part",
        )
    chunks = []
    size = 0
    async for chunk in request.stream():
        if size < limit:
            chunks.append(chunk)
        size += len(chunk)  # past the limit, counted and dropped
    file_name = request.query_params.get("file_name", "import.csv")
    return Upload(file_name, b"".join(chunks)[:limit], size)
