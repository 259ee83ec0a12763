"""Administration: companies (create, rename, archive), groups (create, their admins) and the
users' bulk sync by CSV with its per-row report."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from credflow_console.api import ApiError
from credflow_console.routes.admin_settings import REFUSALS, directory_write, require_admin
from credflow_console.routes.admin_users import require_user_admin
from credflow_console.web import (
    Page,
    SignedIn,
    check_csrf,
    notify,
    parse_uuid,
    redirect,
    with_position,
)

Body = dict[str, Any]
Text = Annotated[str | None, Query(max_length=200)]
SYNC_COLUMNS = ("email,name,manager_email,company,groups,roles,permissions,date_format,"
                "time_zone,status")  # fmt: skip


def build_router() -> APIRouter:
    router = APIRouter(prefix="/admin", dependencies=[Depends(check_csrf)])

    async def directory_page(page: Page, status: int = 200, min_position: str | None = None,
                             **context: Any) -> Response:  # fmt: skip
        companies, groups, staff = await asyncio.gather(
            page.caller.get("views", "/companies", min_position=min_position),
            page.caller.get("directory", "/groups"),
            page.caller.get("directory", "/users", status="active", limit=1000),
        )  # fmt: skip
        people = {u["user_id"]: u["name"] for u in staff["items"]}
        reviewers = [u for u in staff["items"]
                     if set(u["roles"]) & {"admin", "reviewer", "manager"}]  # fmt: skip
        return page.render("admin_directory.html", status, companies=companies["items"],
                           groups=groups["items"], people=people, reviewers=reviewers,
                           errors=context.pop("errors", {}), **context)  # fmt: skip

    @router.get("/companies", response_class=HTMLResponse)
    async def companies(page: SignedIn, min_position: Text = None) -> Response:
        """Companies (with their workers, from the views: the page waits for a change to
        reach them) and groups."""
        require_admin(page)
        return await directory_page(page, min_position=min_position)

    async def write(page: Page, method: str, path: str, body: Body, done: str) -> Response:
        form = await page.request.form()
        answer, errors = await directory_write(page, method, path, body, form)
        if answer is None:
            return await directory_page(page, 422, errors=errors)
        notify(page.request, done)
        return redirect(page.request, with_position("/admin/companies", answer))

    @router.post("/companies", response_class=HTMLResponse)
    async def create_company(page: SignedIn) -> Response:
        require_admin(page)
        name = str((await page.request.form()).get("name") or "").strip()
        return await write(page, "POST", "/companies", {"name": name}, "Company added.")

    @router.post("/companies/{company_id}", response_class=HTMLResponse)
    async def change_company(page: SignedIn, company_id: UUID) -> Response:
        require_admin(page)
        form = await page.request.form()
        body: Body = {"name": str(form.get("name") or "").strip()}
        if form.get("archived") in ("true", "false"):
            body = {"archived": form.get("archived") == "true"}
        return await write(page, "PATCH", f"/companies/{company_id}", body, "Company saved.")

    @router.post("/groups", response_class=HTMLResponse)
    async def create_group(page: SignedIn) -> Response:
        require_admin(page)
        name = str((await page.request.form()).get("name") or "").strip()
        return await write(page, "POST", "/groups", {"name": name}, "Group added.")

    @router.post("/groups/{group_id}", response_class=HTMLResponse)
    async def change_group(page: SignedIn, group_id: UUID) -> Response:
        require_admin(page)
        form = await page.request.form()
        admins = [str(a) for a in (parse_uuid(v) for v in form.getlist("admin_ids")) if a]
        body = {"name": str(form.get("name") or "").strip(), "admin_ids": admins}
        return await write(page, "PATCH", f"/groups/{group_id}", body, "Group saved.")

    @router.get("/users/sync", response_class=HTMLResponse)
    async def sync_form(page: SignedIn) -> Response:
        require_user_admin(page)
        return page.render("admin_sync.html", report=None, columns=SYNC_COLUMNS, message=None)

    @router.post("/users/sync", response_class=HTMLResponse)
    async def sync(page: SignedIn) -> Response:
        require_user_admin(page)
        upload = (await page.request.form()).get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return page.render("admin_sync.html", 422, report=None, columns=SYNC_COLUMNS,
                               message="Choose a CSV file.")  # fmt: skip
        try:
            report = await page.caller.send(
                "POST", "directory", "/users/sync", content=await upload.read(),
                headers={"Content-Type": "text/csv"},
            )  # fmt: skip
        except ApiError as exc:
            if exc.status not in REFUSALS:
                raise
            return page.render("admin_sync.html", 422, report=None, columns=SYNC_COLUMNS,
                               message=exc.detail)  # fmt: skip
        return page.render("admin_sync.html", report=report, columns=SYNC_COLUMNS, message=None)

    return router
