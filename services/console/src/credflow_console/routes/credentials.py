"""A worker's credentials: the profile (requirements, compliance, every credential), one
credential (files, versions with their reviews, audit trail), its files, removing a file and
deleting it. Workers see their own; managers their team's; admins and reviewers anyone's."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from credflow_console import lookups
from credflow_console.access import is_self, may_manage
from credflow_console.api import ApiError
from credflow_console.web import Page, SignedIn, check_csrf, redirect, with_position

Body = dict[str, Any]
MinPosition = Annotated[str | None, Query(max_length=64)]
STATUS_LABELS = {
    "pending": "Pending review", "verified": "Verified", "submitted": "Submitted",
    "not_accepted": "Not accepted", "expired": "Expired", "required": "Required",
    "revoked": "Revoked", "suspended": "Suspended",
}  # fmt: skip


def build_router() -> APIRouter:
    router = APIRouter(dependencies=[Depends(check_csrf)])

    @router.get("/")
    async def home(page: SignedIn) -> Response:
        target = "/network/workers" if page.person.only_views else "/credentials"
        return RedirectResponse(target, status_code=303)

    @router.get("/credentials", response_class=HTMLResponse)
    async def profile(
        page: SignedIn, worker: UUID | None = None, min_position: MinPosition = None
    ) -> Response:
        holder_id = worker or page.person.user_id
        profile, settings = await asyncio.gather(
            page.caller.get("views", f"/workers/{holder_id}", min_position=min_position),
            lookups.organisation_settings(page.caller),
        )
        reasons = await _rejection_reasons(page, profile["credentials"])
        return page.render(
            "profile.html", worker=profile, reasons=reasons, labels=STATUS_LABELS,
            mine=is_self(page.person, holder_id),
            may_add=may_manage(page.person, profile, settings),
        )  # fmt: skip

    @router.get("/credentials/{credential_id}", response_class=HTMLResponse)
    async def credential(
        page: SignedIn, credential_id: UUID, min_position: MinPosition = None
    ) -> Response:
        detail = await page.caller.get(
            "views", f"/credentials/{credential_id}", min_position=min_position
        )
        holder, settings, types = await asyncio.gather(
            page.caller.get("views", f"/workers/{detail['holder_id']}"),
            lookups.organisation_settings(page.caller),
            lookups.credential_types(page.caller),
        )
        names = {t["credential_type_id"]: t["name"] for t in types}
        return page.render(
            "credential.html", credential=detail, holder=holder, labels=STATUS_LABELS,
            may_manage=may_manage(page.person, holder, settings) and detail["status"] != "deleted",
            type_names=names, mine=is_self(page.person, detail["holder_id"]),
        )  # fmt: skip

    @router.get("/credentials/{credential_id}/files/{media_id}")
    async def file(
        page: SignedIn, credential_id: UUID, media_id: UUID, download: bool = False
    ) -> Response:
        """The file, through the object store's signed URL (shown inline, or downloaded)."""
        answer = await page.caller.get(
            "submission", f"/credentials/{credential_id}/media/{media_id}/url",
            disposition="attachment" if download else "inline",
        )  # fmt: skip
        return RedirectResponse(answer["url"], status_code=303)

    @router.post("/credentials/{credential_id}/files/{media_id}/remove")
    async def remove_file(page: SignedIn, credential_id: UUID, media_id: UUID) -> Response:
        path = f"/credentials/{credential_id}/media/{media_id}"
        answer = await _delete(page, credential_id, path)
        if isinstance(answer, Response):
            return answer
        return redirect(page.request, with_position(f"/credentials/{credential_id}", answer))

    @router.post("/credentials/{credential_id}/delete")
    async def delete(page: SignedIn, credential_id: UUID) -> Response:
        holder_id = str((await page.request.form()).get("holder_id") or "")
        answer = await _delete(page, credential_id, f"/credentials/{credential_id}")
        if isinstance(answer, Response):
            return answer
        target = "/credentials" if is_self(page.person, holder_id) or not holder_id else (
            f"/credentials?worker={holder_id}")  # fmt: skip
        return redirect(page.request, with_position(target, answer))

    return router


async def _rejection_reasons(page: Page, credentials: list[Body]) -> dict[str, str]:
    """Why each not-accepted credential was not accepted (its latest version's comment)."""
    refused = [c["credential_id"] for c in credentials if c["status"] == "not_accepted"][:20]
    details = await asyncio.gather(
        *(page.caller.get("views", f"/credentials/{cid}") for cid in refused)
    )
    reasons = {}
    for detail in details:
        latest = detail["versions"][-1] if detail["versions"] else {}
        reasons[detail["credential_id"]] = latest.get("review_comment") or ""
    return reasons


async def _delete(page: Page, credential_id: UUID, path: str) -> Body | Response:
    """The deletion's answer, or the credential page again with the API's refusal on top."""
    key = str((await page.request.form()).get("form_id") or "") or None
    try:
        answer: Body = await page.caller.send("DELETE", "submission", path, key)
    except ApiError as exc:
        if exc.status not in (403, 404, 409, 412, 422):
            raise
        detail = await page.caller.get("views", f"/credentials/{credential_id}")
        refused: Response = page.render("credential.html", status=exc.status, credential=detail,
                           holder={}, labels=STATUS_LABELS, may_manage=False, type_names={},
                           mine=False, message=exc.detail)  # fmt: skip
        return refused
    return answer
