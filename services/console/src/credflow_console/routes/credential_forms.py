"""Adding a credential, adding a version (a renewal) and editing the latest version: one form,
dates in the person's format, files by drag and drop or picker, every refusal beside its
field. The form's id is the write's idempotency key, so sending it twice writes once."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from credflow_console import dates, lookups
from credflow_console.access import is_self, may_manage
from credflow_console.api import ApiError
from credflow_console.forms import CredentialForm, from_version
from credflow_console.web import Page, RefusedError, SignedIn, check_csrf, redirect, with_position

Body = dict[str, Any]
REFUSALS = (403, 404, 409, 412, 413, 422)


def media_rules(kind: Body | None, settings: Body) -> Body:
    """What files a credential of `kind` takes, as the page explains it."""
    kinds = (kind or {}).get("allowed_media_kinds") or settings.get("allowed_media_kinds") or []
    return {
        "required": bool((kind or {}).get("media_required")),
        "kinds": kinds,
        "accept": ",".join(f".{k}" if k != "jpeg" else ".jpg,.jpeg" for k in kinds),
        "max_mb": round(int(settings.get("max_media_bytes") or 0) / 1_048_576, 1),
    }


async def form_context(page: Page, holder_id: str) -> Body:
    holder, settings, types = await asyncio.gather(
        page.caller.get("views", f"/workers/{holder_id}"),
        lookups.organisation_settings(page.caller),
        lookups.credential_types(page.caller),
    )
    if not may_manage(page.person, holder, settings):
        raise RefusedError(
            403, "Your organisation's admins manage credentials: ask them to add it."
        )
    active = [t for t in types if not t.get("archived")]
    rules = {t["credential_type_id"]: media_rules(t, settings) for t in active}
    return {"holder": holder, "types": active, "settings": settings,
            "rules_json": json.dumps(rules), "mine": is_self(page.person, holder_id)}  # fmt: skip


def build_router() -> APIRouter:
    router = APIRouter(dependencies=[Depends(check_csrf)])

    @router.get("/credentials/new", response_class=HTMLResponse)
    async def new_credential(page: SignedIn, holder: UUID | None = None) -> Response:
        holder_id = str(holder or page.person.user_id)
        context = await form_context(page, holder_id)
        return page.render("credential_form.html", mode="new", form=CredentialForm(
            {"holder_id": holder_id}), **context)  # fmt: skip

    @router.post("/credentials/new", response_class=HTMLResponse)
    async def add_credential(page: SignedIn) -> Response:
        submitted = await page.request.form()
        form = CredentialForm.read(submitted)
        holder_id = form.values["holder_id"] or str(page.person.user_id)
        data = form.data(page.date_format, with_type=True)
        if not form.values["credential_type_id"]:
            form.errors["credential_type_id"] = "choose the credential's type"
        answer = await _send(
            page, form, submitted.get("form_id"), data, "/credentials", method="POST"
        )
        if answer is None:
            context = await form_context(page, holder_id)
            return page.render("credential_form.html", 422, mode="new", form=form, **context)
        return redirect(page.request, with_position(f"/credentials/{answer['credential_id']}",
                                                    answer))  # fmt: skip

    @router.get("/credentials/{credential_id}/renew", response_class=HTMLResponse)
    async def new_version(page: SignedIn, credential_id: UUID) -> Response:
        return await _version_form(page, credential_id, "renew", None)

    @router.post("/credentials/{credential_id}/renew", response_class=HTMLResponse)
    async def add_version(page: SignedIn, credential_id: UUID) -> Response:
        return await _write_version(page, credential_id, "renew")

    @router.get("/credentials/{credential_id}/edit", response_class=HTMLResponse)
    async def edit_form(page: SignedIn, credential_id: UUID) -> Response:
        return await _version_form(page, credential_id, "edit", None)

    @router.post("/credentials/{credential_id}/edit", response_class=HTMLResponse)
    async def edit_latest(page: SignedIn, credential_id: UUID) -> Response:
        return await _write_version(page, credential_id, "edit")

    return router


async def _write_version(page: Page, credential_id: UUID, mode: str) -> Response:
    """Add a version (`renew`) or correct the latest one (`edit`: only what changed is sent;
    a field emptied is cleared)."""
    submitted = await page.request.form()
    form = CredentialForm.read(submitted)
    data = form.data(page.date_format, with_type=False)
    if mode == "renew":
        path, method = f"/credentials/{credential_id}/versions", "POST"
    else:
        path, method = f"/credentials/{credential_id}/latest", "PATCH"
        detail = await page.caller.get("views", f"/credentials/{credential_id}")
        data = _changes(form, data, from_version(detail["versions"][-1], page.date_format),
                        page.date_format)  # fmt: skip
    answer = await _send(page, form, submitted.get("form_id"), data, path, method=method)
    if answer is None:
        return await _version_form(page, credential_id, mode, form)
    return redirect(page.request, with_position(f"/credentials/{credential_id}", answer))


def _changes(form: CredentialForm, data: Body, before: dict[str, str], date_format: str) -> Body:
    changes = {k: v for k, v in data.items() if _changed(k, v, before, date_format)}
    for name, api_name in (("title", "title"), ("notes", "notes"), ("expires_on", "expires_on"),
                           ("certification_number", "certification"),
                           ("issuer_name", "issuer")):  # fmt: skip
        if before.get(name) and not form.values[name] and name not in form.errors:
            changes[api_name] = None  # emptied: cleared
    return changes


def _changed(api_name: str, value: Any, before: dict[str, str], date_format: str) -> bool:
    if api_name == "certification":
        return bool(value["number"] != before["certification_number"])
    if api_name == "issuer":
        return bool(value["name"] != before["issuer_name"])
    if api_name in ("issued_on", "expires_on"):
        return dates.show(value, date_format) != before[api_name]
    return bool(value != before.get(api_name))


async def _send(page: Page, form: CredentialForm, form_id: Any, data: Body, path: str, *,
                method: str) -> Body | None:  # fmt: skip
    """The write's answer; None (with `form.errors` filled) when it cannot be made."""
    if form.errors:
        return None
    key = str(form_id) if form_id else None
    try:
        if method == "PATCH":
            if not data:
                form.errors["form"] = "nothing was changed"
                return None
            answer: Body = await page.caller.send("PATCH", "submission", path, key, json=data)
        else:
            uploads = await form.uploads()
            body: Body = (
                {"data": {"data": json.dumps(data)}, "files": uploads}
                if uploads
                else {"json": data}
            )  # without files, not a urlencoded form: JSON
            answer = await page.caller.send(method, "submission", path, key, **body)
    except ApiError as exc:
        if exc.status not in REFUSALS:
            raise
        form.refused(exc)
        return None
    return answer


async def _version_form(page: Page, credential_id: UUID, mode: str,
                        form: CredentialForm | None) -> Response:  # fmt: skip
    detail = await page.caller.get("views", f"/credentials/{credential_id}")
    context = await form_context(page, detail["holder_id"])
    if form is None:
        values = from_version(detail["versions"][-1], page.date_format) if detail["versions"] \
            else {}  # fmt: skip
        if mode == "renew":  # a renewal starts from the details that carry over, not the dates
            values = {k: v for k, v in values.items() if k in ("title", "issuer_name")}
        form = CredentialForm(values)
    kind = next((t for t in context["types"] if t["credential_type_id"]
                 == detail["credential_type_id"]), None)  # fmt: skip
    return page.render(
        "credential_form.html", 422 if form.errors else 200, mode=mode, form=form,
        credential=detail, kind=kind, rules=media_rules(kind, context["settings"]), **context,
    )  # fmt: skip
