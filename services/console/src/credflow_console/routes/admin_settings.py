"""Administration: the organisation's settings and its credential types (admins)."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from credflow_console import lookups
from credflow_console.api import ApiError
from credflow_console.web import Page, RefusedError, SignedIn, check_csrf, parse_uuid, redirect

Body = dict[str, Any]
MEDIA_KINDS = ("pdf", "jpeg", "png")
DATE_FORMATS = ("DD/MM/YYYY", "MM/DD/YYYY", "YYYY-MM-DD")
REFUSALS = (403, 404, 409, 412, 422)


def require_admin(page: Page) -> None:
    if not page.person.has_role("admin"):
        raise RefusedError(403, "Administration is for the organisation's admins.")


def refusal_errors(exc: ApiError) -> dict[str, str]:
    return exc.field_errors() or {"form": exc.detail}


async def directory_write(
    page: Page, method: str, path: str, body: Body, form: Any
) -> tuple[Body | None, dict[str, str]]:
    """One change sent to the directory, the form's id as its idempotency key: the answer, or
    (None and) the refusal's messages by field for the form to show."""
    key = str(form.get("form_id") or "") or None
    try:
        answer: Body = await page.caller.send(method, "directory", path, key, json=body)
    except ApiError as exc:
        if exc.status not in REFUSALS:
            raise
        return None, refusal_errors(exc)
    return answer, {}


async def create_or_update(
    page: Page, collection: str, entity_id: UUID | None, body: Body, form: Any
) -> dict[str, str]:
    """POST a new entity (its unset fields left out) or PATCH an existing one (unset fields
    cleared); the refusal's messages by field."""
    if entity_id is None:
        created = {k: v for k, v in body.items() if v is not None}
        return (await directory_write(page, "POST", collection, created, form))[1]
    return (await directory_write(page, "PATCH", f"{collection}/{entity_id}", body, form))[1]


def whole_number(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def settings_from(form: Any, current: Body) -> tuple[Body, dict[str, str]]:
    """The settings the form changes (only those), and what cannot be read."""
    errors: dict[str, str] = {}
    wanted: Body = {
        "credential_management": form.get("credential_management"),
        "validation_required": form.get("validation_required") == "on",
        "reviewer_routing": form.get("reviewer_routing"),
        "reviewer_group_id": str(parse_uuid(form.get("reviewer_group_id")) or "") or None,
        "review_notifications": form.get("review_notifications"),
        "default_date_format": form.get("default_date_format"),
        "time_zone": str(form.get("time_zone") or "").strip(),
        "allowed_media_kinds": [k for k in MEDIA_KINDS if k in form.getlist("allowed_media_kinds")],
    }  # fmt: skip
    days = whole_number(str(form.get("expiring_soon_days") or ""))
    if days is None:
        errors["expiring_soon_days"] = "a whole number of days"
    else:
        wanted["expiring_soon_days"] = days
    megabytes = str(form.get("max_media_mb") or "").strip()
    try:
        wanted["max_media_bytes"] = round(float(megabytes) * 1_048_576)
    except ValueError:
        errors["max_media_mb"] = "a number of megabytes, such as 20"
    if not wanted["allowed_media_kinds"]:
        errors["allowed_media_kinds"] = "allow at least one kind of file"
    changes = {k: v for k, v in wanted.items() if k not in errors and v != current.get(k)}
    return changes, errors


def build_router() -> APIRouter:
    router = APIRouter(prefix="/admin", dependencies=[Depends(check_csrf)])

    async def settings_page(page: Page, status: int = 200, **context: Any) -> Response:
        organisation, groups = await asyncio.gather(
            page.caller.get("directory", ""), page.caller.get("directory", "/groups")
        )
        return page.render(
            "admin_settings.html", status, organisation=organisation,
            settings=context.pop("settings", organisation["settings"]), groups=groups["items"],
            media_kinds=MEDIA_KINDS, date_formats=DATE_FORMATS, **context,
        )  # fmt: skip

    @router.get("/settings", response_class=HTMLResponse)
    async def show_settings(page: SignedIn, saved: bool = False) -> Response:
        require_admin(page)
        return await settings_page(page, errors={}, saved=saved)

    @router.post("/settings", response_class=HTMLResponse)
    async def save_settings(page: SignedIn) -> Response:
        require_admin(page)
        form = await page.request.form()
        current = (await page.caller.get("directory", ""))["settings"]
        changes, errors = settings_from(form, current)
        if not errors and changes:
            _, errors = await directory_write(page, "PATCH", "/settings", changes, form)
        if errors:
            typed = {**current, **changes, "max_media_mb": form.get("max_media_mb"),
                     "expiring_soon_days": form.get("expiring_soon_days")}  # fmt: skip
            return await settings_page(page, 422, errors=errors, saved=False, settings=typed)
        lookups.forget(page.person.organisation_id)
        return redirect(page.request, "/admin/settings?saved=true")

    return router
