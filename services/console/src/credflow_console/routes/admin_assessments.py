"""Administration: assessments (yes/no questions whose yes-answers add required credential
types) and a worker's answers."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from credflow_console import lookups
from credflow_console.api import ApiError
from credflow_console.routes.admin_settings import directory_write, require_admin
from credflow_console.web import Page, SignedIn, check_csrf, notify, parse_uuid, redirect

Body = dict[str, Any]
QUESTION_SLOTS = 3
Text = Annotated[str | None, Query(max_length=200)]


def assessment_from(form: Any) -> tuple[Body, dict[str, str]]:
    questions = []
    for slot in range(1, QUESTION_SLOTS + 1):
        text = str(form.get(f"question_{slot}") or "").strip()
        if text:
            types = [str(t) for t in (parse_uuid(v) for v in form.getlist(f"types_{slot}")) if t]
            questions.append({"question_id": str(uuid4()), "text": text,
                              "requires_credential_type_ids": types})  # fmt: skip
    body = {"name": str(form.get("name") or "").strip(), "questions": questions}
    errors = {} if questions else {"question_1": "ask at least one question"}
    return body, errors


def build_router() -> APIRouter:
    router = APIRouter(prefix="/admin/assessments", dependencies=[Depends(check_csrf)])

    async def assessments_page(page: Page, status: int = 200, **context: Any) -> Response:
        found, types = await asyncio.gather(
            page.caller.get("directory", "/assessments"), lookups.credential_types(page.caller)
        )
        return page.render(
            "admin_assessments.html", status, assessments=found["items"],
            types=[t for t in types if not t["archived"]],
            names={t["credential_type_id"]: t["name"] for t in types},
            slots=range(1, QUESTION_SLOTS + 1), errors=context.pop("errors", {}), **context,
        )  # fmt: skip

    @router.get("", response_class=HTMLResponse)
    async def assessments(page: SignedIn) -> Response:
        require_admin(page)
        return await assessments_page(page)

    @router.post("", response_class=HTMLResponse)
    async def define(page: SignedIn) -> Response:
        require_admin(page)
        form = await page.request.form()
        body, errors = assessment_from(form)
        if not errors:
            _, errors = await directory_write(page, "POST", "/assessments", body, form)
        if errors:
            return await assessments_page(page, 422, errors=errors, typed=dict(form.items()))
        notify(page.request, f"Saved {body['name']}.")
        return redirect(page.request, "/admin/assessments")

    @router.get("/{assessment_id}/answers", response_class=HTMLResponse)
    async def answers(page: SignedIn, assessment_id: UUID, q: Text = None) -> Response:
        """A worker's answers: find the worker, then read what they answered."""
        require_admin(page)
        found = await page.caller.get("directory", "/assessments")
        assessment = next((a for a in found["items"]
                           if a["assessment_id"] == str(assessment_id)), None)  # fmt: skip
        if assessment is None:
            notify(page.request, "No such assessment.")
            return redirect(page.request, "/admin/assessments")
        people = (await page.caller.get("directory", "/users", q=q, limit=20))["items"] if q \
            else []  # fmt: skip
        answered: list[tuple[Body, Body | None]] = []
        for person in people:
            try:
                answer = await page.caller.get(
                    "directory", f"/assessments/{assessment_id}/answers/{person['user_id']}"
                )
            except ApiError as exc:
                if exc.status != 404:
                    raise
                answer = None
            answered.append((person, answer))
        types = await lookups.credential_types(page.caller)
        return page.render("admin_answers.html", assessment=assessment, q=q or "",
                           answered=answered,
                           names={t["credential_type_id"]: t["name"] for t in types})  # fmt: skip

    return router
