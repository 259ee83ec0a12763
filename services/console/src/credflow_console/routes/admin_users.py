"""Administration: users (search, create, edit, deactivate and reactivate), for admins and
holders of `users:manage`."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from credflow_console.keys import Person
from credflow_console.routes.admin_settings import DATE_FORMATS, create_or_update
from credflow_console.web import (
    Page,
    RefusedError,
    SignedIn,
    check_csrf,
    notify,
    parse_uuid,
    redirect,
)

Body = dict[str, Any]
Text = Annotated[str | None, Query(max_length=200)]
ROLES = ("worker", "manager", "reviewer", "admin", "client_viewer")
USERS_PER_PAGE = 50
PERMISSIONS = (("users:manage", "users_manage"), ("privacy:erase", "privacy_erase"))
"""Each permission the form offers, and its checkbox."""


def may_erase(person: Person) -> bool:
    """The directory's rule for erasing people: the admin role and `privacy:erase`."""
    return person.has_role("admin") and "privacy:erase" in person.permissions


def require_user_admin(page: Page) -> None:
    if not (page.person.has_role("admin") or "users:manage" in page.person.permissions):
        raise RefusedError(403, "Managing users needs the admin role or users:manage.")


def user_from(form: Any) -> tuple[Body, dict[str, str]]:
    """A user as the directory takes it (every field, clearing included)."""
    body: Body = {
        "name": str(form.get("name") or "").strip(),
        "email": str(form.get("email") or "").strip(),
        "roles": [r for r in ROLES if r in form.getlist("roles")],
        "permissions": [p for p, field in PERMISSIONS if form.get(field) == "on"],
        "manager_id": str(parse_uuid(form.get("manager_id")) or "") or None,
        "company_id": str(parse_uuid(form.get("company_id")) or "") or None,
        "group_ids": [str(g) for g in (parse_uuid(v) for v in form.getlist("group_ids")) if g],
        "date_format": str(form.get("date_format") or "") or None,
        "time_zone": str(form.get("time_zone") or "").strip() or None,
    }
    errors = {}
    if not body["roles"]:
        errors["roles"] = "tick at least one role"
    return body, errors


async def user_form(page: Page, user: Body, status: int = 200,
                    errors: dict[str, str] | None = None) -> Response:  # fmt: skip
    managers, companies, groups = await asyncio.gather(
        page.caller.get("directory", "/users", role="manager", status="active", limit=1000),
        page.caller.get("directory", "/companies"), page.caller.get("directory", "/groups"),
    )  # fmt: skip
    return page.render(
        "admin_user.html", status, user=user, roles=ROLES, managers=managers["items"],
        companies=companies["items"], groups=groups["items"], date_formats=DATE_FORMATS,
        errors=errors or {}, may_erase=may_erase(page.person),
    )  # fmt: skip


def build_router() -> APIRouter:
    router = APIRouter(prefix="/admin/users", dependencies=[Depends(check_csrf)])

    @router.get("", response_class=HTMLResponse)
    async def users(page: SignedIn, q: Text = None, status: Text = None,
                    cursor: Text = None) -> Response:  # fmt: skip
        require_user_admin(page)
        shown = status if status in ("active", "deactivated") else ""
        found = await page.caller.get("directory", "/users", q=q, status=shown,
                                      limit=USERS_PER_PAGE, after=parse_uuid(cursor))  # fmt: skip
        query = urlencode([(k, v) for k, v in (("q", q), ("status", shown)) if v])
        return page.render("admin_users.html", users=found["items"], q=q or "", shown=shown,
                           next_cursor=found["next"], query=query,
                           first_page=not cursor)  # fmt: skip

    @router.get("/new", response_class=HTMLResponse)
    async def new_user(page: SignedIn) -> Response:
        require_user_admin(page)
        return await user_form(page, {"roles": ["worker"], "status": "active"})

    @router.get("/{user_id}", response_class=HTMLResponse)
    async def edit_user(page: SignedIn, user_id: UUID) -> Response:
        require_user_admin(page)
        return await user_form(page, await page.caller.get("directory", f"/users/{user_id}"))

    @router.post("/new", response_class=HTMLResponse)
    async def create_user(page: SignedIn) -> Response:
        return await save_user(page, None)

    @router.post("/{user_id}", response_class=HTMLResponse)
    async def update_user(page: SignedIn, user_id: UUID) -> Response:
        return await save_user(page, user_id)

    async def save_user(page: Page, user_id: UUID | None) -> Response:
        require_user_admin(page)
        form = await page.request.form()
        body, errors = user_from(form)
        if not errors:
            errors = await create_or_update(page, "/users", user_id, body, form)
        if errors:
            typed = {**body, "user_id": str(user_id) if user_id else None,
                     "status": str(form.get("status") or "active")}  # fmt: skip
            return await user_form(page, typed, 422, errors)
        notify(page.request, f"Saved {body['name']}.")
        return redirect(page.request, "/admin/users")

    @router.post("/{user_id}/{change}")
    async def change_status(page: SignedIn, user_id: UUID, change: str) -> Response:
        require_user_admin(page)
        if change not in ("deactivate", "reactivate"):
            raise RefusedError(404, "There is no such page.")
        answer = await page.caller.send("POST", "directory", f"/users/{user_id}/{change}",
                                        json={})  # fmt: skip
        done = "Deactivated" if change == "deactivate" else "Reactivated"
        notify(page.request, f"{done} {answer['name']}.")
        return redirect(page.request, "/admin/users")

    return router
