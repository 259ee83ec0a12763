"""Administration: credential types (list, create, edit, archive) and requirements (which
types all workers, a company's or a group's workers must hold)."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from credflow_console import lookups
from credflow_console.routes.admin_settings import (
    MEDIA_KINDS,
    create_or_update,
    directory_write,
    require_admin,
    whole_number,
)
from credflow_console.web import Page, SignedIn, check_csrf, notify, parse_uuid, redirect

Body = dict[str, Any]
VALIDATION = {"": None, "yes": True, "no": False}


def type_from(form: Any) -> tuple[Body, dict[str, str]]:
    """A credential type as the directory takes it (every field: clearing included)."""
    errors: dict[str, str] = {}
    months_text = str(form.get("default_validity_months") or "").strip()
    months = whole_number(months_text)
    if months_text and months is None:
        errors["default_validity_months"] = "a whole number of months, or empty"
    credits_text = str(form.get("credits") or "").strip()
    credits: float | None = None
    if credits_text:
        try:
            credits = float(credits_text)
        except ValueError:
            errors["credits"] = "a number, or empty"
    kinds = [k for k in MEDIA_KINDS if k in form.getlist("allowed_media_kinds")]
    body: Body = {
        "name": str(form.get("name") or "").strip(),
        "expires": form.get("expires") == "on",
        "default_validity_months": months,
        "validation_required": VALIDATION.get(str(form.get("validation_required") or "")),
        "media_required": form.get("media_required") == "on",
        "allowed_media_kinds": kinds or None,
        "internal_equivalent_id": str(parse_uuid(form.get("internal_equivalent_id")) or "") or None,
        "credits": credits,
    }
    if not body["name"]:
        errors["name"] = "give the type a name"
    return body, errors


def build_router() -> APIRouter:
    router = APIRouter(prefix="/admin", dependencies=[Depends(check_csrf)])

    async def type_form(page: Page, kind: Body | None, status: int = 200,
                        errors: dict[str, str] | None = None) -> Response:  # fmt: skip
        types = await lookups.credential_types(page.caller)
        return page.render("admin_type.html", status, kind=kind or {"expires": True},
                           types=[t for t in types if not kind or t["credential_type_id"]
                                  != kind.get("credential_type_id")],
                           media_kinds=MEDIA_KINDS, errors=errors or {})  # fmt: skip

    @router.get("/types", response_class=HTMLResponse)
    async def list_types(page: SignedIn) -> Response:
        require_admin(page)
        found = await page.caller.get("directory", "/credential-types", include_archived="true")
        names = {t["credential_type_id"]: t["name"] for t in found["items"]}
        return page.render("admin_types.html", types=found["items"], names=names)

    @router.get("/types/new", response_class=HTMLResponse)
    async def new_type(page: SignedIn) -> Response:
        require_admin(page)
        return await type_form(page, None)

    @router.get("/types/{type_id}", response_class=HTMLResponse)
    async def edit_type(page: SignedIn, type_id: UUID) -> Response:
        require_admin(page)
        return await type_form(
            page, await page.caller.get("directory", f"/credential-types/{type_id}")
        )

    @router.post("/types/new", response_class=HTMLResponse)
    async def create_type(page: SignedIn) -> Response:
        return await save_type(page, None)

    @router.post("/types/{type_id}", response_class=HTMLResponse)
    async def update_type(page: SignedIn, type_id: UUID) -> Response:
        return await save_type(page, type_id)

    async def save_type(page: Page, type_id: UUID | None) -> Response:
        require_admin(page)
        form = await page.request.form()
        body, errors = type_from(form)
        if not errors:
            errors = await create_or_update(page, "/credential-types", type_id, body, form)
        if errors:
            typed = {**body, "credential_type_id": str(type_id) if type_id else None}
            return await type_form(page, typed, 422, errors)
        lookups.forget(page.person.organisation_id)
        notify(page.request, f"Saved {body['name']}.")
        return redirect(page.request, "/admin/types")

    @router.post("/types/{type_id}/archive")
    async def archive_type(page: SignedIn, type_id: UUID) -> Response:
        require_admin(page)
        await page.caller.send("POST", "directory", f"/credential-types/{type_id}/archive",
                               json={})  # fmt: skip
        lookups.forget(page.person.organisation_id)
        notify(page.request, "Archived.")
        return redirect(page.request, "/admin/types")

    @router.get("/requirements", response_class=HTMLResponse)
    async def requirements(page: SignedIn) -> Response:
        require_admin(page)
        return await requirements_page(page)

    async def requirements_page(page: Page, status: int = 200, **context: Any) -> Response:
        found, types, companies, groups = await asyncio.gather(
            page.caller.get("directory", "/requirements"), lookups.credential_types(page.caller),
            page.caller.get("directory", "/companies"), page.caller.get("directory", "/groups"),
        )  # fmt: skip
        return page.render(
            "admin_requirements.html", status, requirements=found["items"],
            types=[t for t in types if not t["archived"]],
            names={t["credential_type_id"]: t["name"] for t in types},
            companies=companies["items"], groups=groups["items"],
            company_names={c["company_id"]: c["name"] for c in companies["items"]},
            group_names={g["group_id"]: g["name"] for g in groups["items"]},
            errors=context.pop("errors", {}), **context,
        )  # fmt: skip

    @router.post("/requirements", response_class=HTMLResponse)
    async def add_requirement(page: SignedIn) -> Response:
        require_admin(page)
        form = await page.request.form()
        scope = str(form.get("scope") or "")
        body: Body = {"credential_type_id": str(form.get("credential_type_id") or ""),
                      "scope": scope}  # fmt: skip
        if scope == "company":
            body["company_id"] = str(form.get("company_id") or "") or None
        if scope == "group":
            body["group_id"] = str(form.get("group_id") or "") or None
        _, errors = await directory_write(page, "POST", "/requirements", body, form)
        if errors:
            return await requirements_page(page, 422, errors=errors)
        notify(page.request, "Requirement added.")
        return redirect(page.request, "/admin/requirements")

    @router.post("/requirements/{requirement_id}/remove")
    async def remove_requirement(page: SignedIn, requirement_id: UUID) -> Response:
        require_admin(page)
        await page.caller.send("DELETE", "directory", f"/requirements/{requirement_id}")
        notify(page.request, "Requirement removed.")
        return redirect(page.request, "/admin/requirements")

    return router
