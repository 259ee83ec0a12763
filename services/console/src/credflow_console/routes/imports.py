"""The bulk upload wizard, step for step as SafetyCulture's help centre describes it:
download the CSV template → upload the CSV (drag and drop) → review data (every problem by row
and column, with its resolution in words, paged on the server; the report as CSV) → re-upload →
add media (many files at once, matched to rows by file name) or make media optional → finish,
with a progress bar fed by the import's progress → approve the whole import in bulk, or leave
it to reviewers."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from credflow_console.api import ApiError
from credflow_console.web import Page, RefusedError, SignedIn, check_csrf, redirect

Body = dict[str, Any]
PROBLEMS_PER_PAGE = 50
REFUSALS = (403, 404, 409, 413, 422)
RESOLUTIONS = {
    "unknown_user": "No active user has this email: fix the email, or add the user first.",
    "user_deactivated": "This user is deactivated: reactivate them, or remove the row.",
    "unknown_credential_type": "No credential type has this name: use a name from the"
    " template's list, or create the type first.",
    "credential_type_archived": "This type is archived: use another type, or remove the row.",
    "invalid_date": "Write the date in your date format (the template's first line shows it).",
    "date_out_of_range": "Dates run from 01/01/1900 to 31/12/2199.",
    "expires_before_issue": "The expiry date must come after the issue date.",
    "expiry_required": "This type expires and has no default validity: add an expiry date.",
    "required": "This column needs a value.",
    "too_long": "Shorten the value.",
    "duplicate_row": "The same credential appears twice in the file: remove one row.",
    "wrong_cell_count": "This row has too many or too few cells: check commas and quotes.",
    "missing_column": "Add this column to the header row (download the template).",
    "duplicate_column": "This column appears twice in the header row: keep one.",
    "empty_file": "The file has no rows: fill in the template.",
    "not_csv": "Save the file as CSV (comma-separated values, UTF-8) and upload it again.",
}
PageNumber = Annotated[int, Query(ge=1, le=100_000)]


def require_uploader(page: Page) -> None:
    if not (page.person.has_role("admin") or "users:manage" in page.person.permissions):
        raise RefusedError(403, "Bulk uploads are for admins and holders of users:manage.")


async def csv_upload(form: Any, field: str = "file") -> list[tuple[str, tuple[str, bytes, str]]]:
    upload = form.get(field)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return []
    return [(field, (upload.filename, await upload.read(), "text/csv"))]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/imports", dependencies=[Depends(check_csrf)])

    async def report(page: Page, import_id: UUID, page_number: int = 1) -> Body:
        found: Body = await page.caller.get(
            "importer", f"/imports/{import_id}",
            problems_offset=(page_number - 1) * PROBLEMS_PER_PAGE,
            problems_limit=PROBLEMS_PER_PAGE,
        )  # fmt: skip
        return found

    async def review_page(page: Page, import_id: UUID, page_number: int = 1, status: int = 200,
                          message: str | None = None) -> Response:  # fmt: skip
        found = await report(page, import_id, page_number)
        pages = max(1, -(-found["problem_count"] // PROBLEMS_PER_PAGE))
        return page.render("import_review.html", status, report=found, page_number=page_number,
                           pages=pages, resolutions=RESOLUTIONS, message=message)  # fmt: skip

    @router.get("", response_class=HTMLResponse)
    async def start(page: SignedIn) -> Response:
        require_uploader(page)
        found = await page.caller.get("importer", "/imports")
        return page.render("import_start.html", imports=found["items"][:20])

    @router.get("/template")
    async def template(page: SignedIn) -> Response:
        require_uploader(page)
        answer = await page.caller.stream("importer", "/imports/template")
        body = await answer.aread()
        await answer.aclose()
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="credentials-template.csv"'},
        )

    @router.post("", response_class=HTMLResponse)
    async def upload(page: SignedIn) -> Response:
        require_uploader(page)
        files = await csv_upload(await page.request.form())
        if not files:
            return page.render("import_start.html", 422, imports=[],
                               message="Choose a CSV file to upload.")  # fmt: skip
        try:
            created = await page.caller.send("POST", "importer", "/imports", files=files)
        except ApiError as exc:
            if exc.status not in REFUSALS:
                raise
            return page.render("import_start.html", 422, imports=[], message=exc.detail)
        return redirect(page.request, f"/imports/{created['import_id']}")

    @router.get("/{import_id}", response_class=HTMLResponse)
    async def review(page: SignedIn, import_id: UUID, page_number: PageNumber = 1) -> Response:
        """Review data: the problems, a page at a time; re-upload; next."""
        require_uploader(page)
        return await review_page(page, import_id, page_number)

    @router.get("/{import_id}/report.csv")
    async def report_csv(page: SignedIn, import_id: UUID) -> Response:
        require_uploader(page)
        answer = await page.caller.stream("importer", f"/imports/{import_id}/report.csv")
        body = await answer.aread()
        await answer.aclose()
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="import-{import_id}-report.csv"'
            },
        )

    @router.post("/{import_id}/file", response_class=HTMLResponse)
    async def reupload(page: SignedIn, import_id: UUID) -> Response:
        require_uploader(page)
        files = await csv_upload(await page.request.form())
        if not files:
            return await review_page(page, import_id, 1, 422, "Choose the corrected CSV file.")
        try:
            await page.caller.send("PUT", "importer", f"/imports/{import_id}/file", files=files)
        except ApiError as exc:
            if exc.status not in REFUSALS:
                raise
            return await review_page(page, import_id, 1, 422, exc.detail)
        return redirect(page.request, f"/imports/{import_id}")

    @router.get("/{import_id}/media", response_class=HTMLResponse)
    async def media(page: SignedIn, import_id: UUID) -> Response:
        require_uploader(page)
        found = await report(page, import_id)
        return page.render("import_media.html", report=found, outcomes=[])

    @router.post("/{import_id}/media", response_class=HTMLResponse)
    async def add_media(page: SignedIn, import_id: UUID) -> Response:
        require_uploader(page)
        form = await page.request.form()
        if form.get("media_optional") == "yes":
            await page.caller.send("PATCH", "importer", f"/imports/{import_id}",
                                   json={"media_optional": True})  # fmt: skip
            return redirect(page.request, f"/imports/{import_id}/media")
        uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
        files = [
            (
                "files",
                (
                    f.filename or "file",
                    await f.read(),
                    f.content_type or "application/octet-stream",
                ),
            )
            for f in uploads
        ]
        if not files:
            return redirect(page.request, f"/imports/{import_id}/media")
        try:
            answer = await page.caller.send("POST", "importer", f"/imports/{import_id}/media",
                                            files=files)  # fmt: skip
        except ApiError as exc:
            return await media_refused(page, import_id, exc)
        return page.render("import_media.html", report=answer, outcomes=answer["files"])

    async def media_refused(page: Page, import_id: UUID, exc: ApiError) -> Response:
        """The media step again, saying why the importer refused (anything else is raised)."""
        if exc.status not in REFUSALS:
            raise exc
        found = await report(page, import_id)
        return page.render("import_media.html", 422, report=found, message=exc.detail,
                           outcomes=[])  # fmt: skip

    @router.post("/{import_id}/finish")
    async def finish(page: SignedIn, import_id: UUID) -> Response:
        require_uploader(page)
        try:
            await page.caller.send("POST", "importer", f"/imports/{import_id}/finish")
        except ApiError as exc:
            return await media_refused(page, import_id, exc)
        return redirect(page.request, f"/imports/{import_id}/progress")

    @router.get("/{import_id}/progress", response_class=HTMLResponse)
    async def progress(page: SignedIn, import_id: UUID) -> Response:
        require_uploader(page)
        found = await report(page, import_id)
        return page.render("import_progress.html", report=found, outcome=None)

    @router.post("/{import_id}/approve", response_class=HTMLResponse)
    async def approve(page: SignedIn, import_id: UUID) -> Response:
        require_uploader(page)
        outcome = await page.caller.send("POST", "review", "/reviews/bulk-approve",
                                         json={"import_id": str(import_id)})  # fmt: skip
        found = await report(page, import_id)
        return page.render("import_progress.html", report=found, outcome=outcome)

    return router
