"""My notification settings: reminders on or off, how many days before an expiry, and whether
my manager gets a copy."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from credflow_console.api import ApiError
from credflow_console.web import SignedIn, check_csrf

PATH = "/users/me/notification-settings"


def build_router() -> APIRouter:
    router = APIRouter(dependencies=[Depends(check_csrf)])

    @router.get("/settings/notifications", response_class=HTMLResponse)
    async def notification_settings(page: SignedIn) -> Response:
        current = await page.caller.get("reminder", PATH)
        return page.render("notifications.html", current=current, errors={}, saved=False)

    @router.post("/settings/notifications", response_class=HTMLResponse)
    async def save(page: SignedIn) -> Response:
        form = await page.request.form()
        typed = str(form.get("lead_days") or "")
        errors: dict[str, str] = {}
        try:
            lead_days = sorted({int(p) for p in typed.replace(",", " ").split()}, reverse=True)
        except ValueError:
            lead_days, errors["lead_days"] = [], "write whole numbers of days, like 30, 7, 1"
        wanted = {"enabled": form.get("enabled") == "on", "lead_days": lead_days,
                  "copy_manager": form.get("copy_manager") == "on"}  # fmt: skip
        if not errors:
            try:
                current = await page.caller.send("PUT", "reminder", PATH, json=wanted)
                return page.render("notifications.html", current=current, errors={}, saved=True)
            except ApiError as exc:
                if exc.status != 422:
                    raise
                errors = exc.field_errors() or {"form": exc.detail}
        shown = {**wanted, "lead_days_text": typed}
        return page.render("notifications.html", 422, current=shown, errors=errors, saved=False)

    return router
