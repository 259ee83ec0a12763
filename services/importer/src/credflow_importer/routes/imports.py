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

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from credflow_common.auth import CurrentPrincipal
from credflow_common.openapi import CSV_RESPONSE
from credflow_common.spreadsheets import csv_text
from credflow_importer import csvfile
from credflow_importer.inputs import (
    CSV_UPLOAD,
    MEDIA_UPLOAD,
    ImportChanges,
    read_media,
    read_upload,
)
from credflow_importer.service import Body, Imports, require_importer, summary
from credflow_importer.store import list_for


def build(imports: Imports) -> APIRouter:
    router = APIRouter(prefix="/organisations/{org}/imports", tags=["imports"])

    @router.get("/template", responses=CSV_RESPONSE)
    async def template(org: UUID, principal: CurrentPrincipal) -> Response:
        """The CSV template (header, an example row, and a guide to each column on `#` rows)."""
        require_importer(principal, org)
        async with imports.pool.connection() as conn:
            uploader = await imports.uploader(conn, org, principal)
        return Response(
            csvfile.template(uploader.date_format),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="credentials-import.csv"'},
        )

    @router.post("", status_code=201, openapi_extra=CSV_UPLOAD)
    async def upload(org: UUID, request: Request, principal: CurrentPrincipal) -> Body:
        """A new draft import from a CSV file, with its report."""
        require_importer(principal, org)
        return await imports.create(org, principal, await read_upload(request))

    @router.put("/{import_id}/file", openapi_extra=CSV_UPLOAD)
    async def replace_file(
        org: UUID, import_id: UUID, request: Request, principal: CurrentPrincipal
    ) -> Body:
        """Upload the file again (a draft only); the report is redone from the new file."""
        require_importer(principal, org)
        return await imports.replace_file(org, import_id, principal, await read_upload(request))

    @router.get("")
    async def list_imports(org: UUID, principal: CurrentPrincipal) -> Body:
        require_importer(principal, org)
        async with imports.pool.connection() as conn:
            found = await list_for(conn, org)
        return {"items": [summary(state.report()) for state in found]}

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
        report = await imports.report(org, import_id)
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
        report = await imports.report(org, import_id)
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
        return await imports.add_media(org, import_id, principal, await read_media(request))

    @router.patch("/{import_id}")
    async def change(
        org: UUID, import_id: UUID, changes: ImportChanges, principal: CurrentPrincipal
    ) -> Body:
        require_importer(principal, org)
        return await imports.set_media_optional(org, import_id, changes.media_optional)

    @router.post("/{import_id}/finish", status_code=202)
    async def finish(org: UUID, import_id: UUID, principal: CurrentPrincipal) -> Body:
        """Start turning every valid row into a credential; the answer shows the progress."""
        require_importer(principal, org)
        return await imports.finish(org, import_id)

    return router
