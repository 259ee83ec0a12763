"""A person's privacy, for admins (the user's page): a legal hold placed with a reason and
released, and erasure, confirmed by typing the person's name, then followed to its receipt."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from credflow_console.api import ApiError
from credflow_console.routes.admin_users import may_erase, user_form
from credflow_console.web import Page, RefusedError, SignedIn, check_csrf, notify, redirect


def require_admin(page: Page) -> None:
    if not page.person.has_role("admin"):
        raise RefusedError(403, "A person's privacy is for admins.")


def build_router() -> APIRouter:
    router = APIRouter(prefix="/admin", dependencies=[Depends(check_csrf)])

    async def refused_on_the_user_page(page: Page, user_id: UUID, errors: dict[str, str]
                                       ) -> Response:  # fmt: skip
        user = await page.caller.get("directory", f"/users/{user_id}")
        return await user_form(page, user, 422, errors)

    @router.post("/users/{user_id}/legal-hold", response_class=HTMLResponse)
    async def place_legal_hold(page: SignedIn, user_id: UUID) -> Response:
        require_admin(page)
        form = await page.request.form()
        reason = str(form.get("reason") or "").strip()
        if not reason:
            return await refused_on_the_user_page(page, user_id, {"reason": "say why"})
        try:
            await page.caller.send("POST", "directory", f"/users/{user_id}/legal-hold",
                                   str(form.get("form_id") or "") or None,
                                   json={"reason": reason})  # fmt: skip
        except ApiError as exc:
            if exc.status not in (409, 422):
                raise
            return await refused_on_the_user_page(page, user_id, {"reason": exc.detail})
        notify(page.request, "Legal hold placed.")
        return redirect(page.request, f"/admin/users/{user_id}")

    @router.post("/users/{user_id}/legal-hold/release", response_class=HTMLResponse)
    async def release_legal_hold(page: SignedIn, user_id: UUID) -> Response:
        require_admin(page)
        try:
            await page.caller.send("DELETE", "directory", f"/users/{user_id}/legal-hold")
        except ApiError as exc:
            if exc.status != 409:
                raise
        notify(page.request, "Legal hold released.")
        return redirect(page.request, f"/admin/users/{user_id}")

    @router.post("/users/{user_id}/erase", response_class=HTMLResponse)
    async def erase(page: SignedIn, user_id: UUID) -> Response:
        if not may_erase(page.person):
            raise RefusedError(403, "Erasing people needs the admin role and privacy:erase.")
        user = await page.caller.get("directory", f"/users/{user_id}")
        typed = str((await page.request.form()).get("confirm") or "").strip()
        if typed != user["name"]:
            mistyped = {"confirm": "type the person's name exactly as it is shown, to confirm"}
            return await user_form(page, user, 422, mistyped)
        try:
            erasure = await page.caller.send("POST", "directory", f"/users/{user_id}/erasure")
        except ApiError as exc:
            if exc.status != 409:
                raise
            return await user_form(page, user, 409, {"confirm": exc.detail})
        return redirect(page.request, f"/admin/erasures/{erasure['erasure_id']}")

    @router.get("/erasures/{erasure_id}", response_class=HTMLResponse)
    async def erasure(page: SignedIn, erasure_id: UUID) -> Response:
        if not may_erase(page.person):
            raise RefusedError(403, "Erasures are for admins holding privacy:erase.")
        found = await page.caller.get("directory", f"/erasures/{erasure_id}")
        return page.render("admin_erasure.html", erasure=found)

    return router
