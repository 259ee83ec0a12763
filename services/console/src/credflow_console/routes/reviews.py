"""The reviewers' workspace: my queue (oldest first, claim state, filters, refreshing by
itself), the review page (the document beside its fields; edit, associate an internal
equivalent, comment, validate or reject), "next item", and bulk approval."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from credflow_console import dates, lookups
from credflow_console.api import ApiError
from credflow_console.web import (
    Page,
    RefusedError,
    SignedIn,
    check_csrf,
    notify,
    parse_uuid,
    redirect,
    with_position,
)

Body = dict[str, Any]
QUEUE_LIMIT = 500
EDITABLE = ("title", "issued_on", "expires_on", "certification_number")
CHECK_FIELDS = "Check the fields marked below."
MinPosition = Annotated[str | None, Query(max_length=64)]
Choice = Annotated[str | None, Query(max_length=64, description="an id, or empty: any")]
Text = Annotated[str | None, Query(max_length=300)]
NO_FILTER = {"credential_type_id": "", "company_id": "", "import_id": ""}


def require_reviewer(page: Page) -> None:
    if not page.person.reviews:
        raise RefusedError(403, "The review queue is for reviewers, managers and admins.")


async def queue_items(page: Page, min_position: str | None = None, **chosen: str) -> list[Body]:
    found = await page.caller.get("views", "/review-queue", limit=QUEUE_LIMIT,
                                  min_position=min_position, **chosen)  # fmt: skip
    items: list[Body] = found["items"]
    return items


def claim_state(item: Body, page: Page) -> str:
    if item.get("claimed_by") is None:
        return "free"
    return "mine" if item["claimed_by"] == str(page.person.user_id) else "taken"


def review_edits(form: Any, version: Body, date_format: str) -> tuple[Body | None, dict[str, str]]:
    """The fields the reviewer changed, as the API's `edits`; errors for unreadable dates."""
    edits: Body = {"changed": []}
    errors: dict[str, str] = {}
    current = {
        "title": version.get("title") or "",
        "issued_on": version.get("issued_on") or "",
        "expires_on": version.get("expires_on") or "",
        "certification_number": (version.get("certification") or {}).get("number") or "",
    }
    for name in EDITABLE:
        typed = str(form.get(name) or "").strip()
        value: str | None = typed or None
        if name in ("issued_on", "expires_on"):
            try:
                day = dates.parse(typed, date_format)
            except ValueError as exc:
                errors[name] = str(exc)
                continue
            value = day.isoformat() if day else None
        if (value or "") != current[name]:
            edits["changed"].append(name)
            edits[name] = value
    return (edits if edits["changed"] else None), errors


def build_router() -> APIRouter:
    router = APIRouter(prefix="/reviews", dependencies=[Depends(check_csrf)])

    async def queue_context(page: Page, chosen: dict[str, str], min_position: str | None = None
                            ) -> Body:  # fmt: skip
        """The queue, filtered on the views' side; the filters' choices come from all of it."""
        if any(chosen.values()):
            items, shown = await asyncio.gather(
                queue_items(page, min_position), queue_items(page, min_position, **chosen)
            )
        else:
            items = shown = await queue_items(page, min_position)
        for item in shown:
            item["claim"] = claim_state(item, page)
        return {
            "items": shown, "total": len(items), "chosen": chosen,
            "types": dict(sorted({(i["credential_type_id"], i["credential_type_name"])
                                  for i in items}, key=lambda t: t[1])),
            "companies": dict(sorted({(i["company_id"], i["company_name"]) for i in items
                                      if i.get("company_id")}, key=lambda c: c[1])),
            "imports": sorted({i["import_id"] for i in items if i.get("import_id")}),
        }  # fmt: skip

    @router.get("", response_class=HTMLResponse)
    async def queue(
        page: SignedIn, credential_type_id: Choice = None, company_id: Choice = None,
        import_id: Choice = None, min_position: MinPosition = None,
    ) -> Response:  # fmt: skip
        require_reviewer(page)
        typed = {"credential_type_id": credential_type_id, "company_id": company_id,
                 "import_id": import_id}  # fmt: skip
        chosen = {name: str(parse_uuid(value) or "") for name, value in typed.items()}
        context = await queue_context(page, chosen, min_position)
        return page.render("queue.html", **context)

    @router.post("/next")
    async def next_item(page: SignedIn) -> Response:
        """Claim the oldest free item and open it (another reviewer may take one first: then
        the next)."""
        require_reviewer(page)
        for item in await queue_items(page):
            if item.get("claimed_by") is None:
                path = f"/reviews/{item['review_id']}"
                try:
                    answer = await page.caller.send("POST", "review", path + "/claim")
                except ApiError as exc:
                    if exc.status == 409:
                        continue
                    raise
                return redirect(page.request, with_position(path, answer))
        notify(page.request, "Your queue is empty.")
        return redirect(page.request, "/reviews")

    @router.post("/bulk-approve", response_class=HTMLResponse)
    async def bulk_approve(page: SignedIn) -> Response:
        require_reviewer(page)
        form = await page.request.form()
        import_id = str(form.get("import_id") or "")
        body: Body = ({"import_id": import_id} if import_id
                      else {"review_ids": [str(v) for v in form.getlist("review_id")]})  # fmt: skip
        if not import_id and not body["review_ids"]:
            context = await queue_context(page, NO_FILTER)
            return page.render("queue.html", 422, message="Select the items to approve.",
                               **context)  # fmt: skip
        outcome = await page.caller.send(
            "POST",
            "review",
            "/reviews/bulk-approve",
            str(form.get("form_id") or "") or None,
            json=body,
        )
        context = await queue_context(page, NO_FILTER)
        return page.render("queue.html", outcome=outcome, **context)

    @router.get("/{review_id}", response_class=HTMLResponse)
    async def review_page(
        page: SignedIn, review_id: UUID, min_position: MinPosition = None
    ) -> Response:
        return await show_review(page, review_id, min_position=min_position)

    @router.post("/{review_id}/claim", response_class=HTMLResponse)
    async def claim(page: SignedIn, review_id: UUID) -> Response:
        require_reviewer(page)
        try:
            answer = await page.caller.send("POST", "review", f"/reviews/{review_id}/claim")
        except ApiError as exc:
            if exc.status not in (403, 404, 409):
                raise
            return await show_review(page, review_id, _conflict(exc), exc.status)
        return redirect(page.request, with_position(f"/reviews/{review_id}", answer))

    @router.post("/{review_id}/decide", response_class=HTMLResponse)
    async def decide(page: SignedIn, review_id: UUID) -> Response:
        require_reviewer(page)
        form = await page.request.form()
        decision = str(form.get("decision") or "")
        if decision not in ("validate", "reject"):
            raise RefusedError(422, "Choose Validate or Reject.")
        detail = await page.caller.get("views", f"/credentials/{form.get('credential_id')}")
        version = next((v for v in detail["versions"]
                        if v["version_id"] == form.get("version_id")), None)  # fmt: skip
        if version is None:
            return await show_review(page, review_id, "This version is no longer open.", 409)
        edits, errors = review_edits(form, version, page.date_format)
        comment = str(form.get("comment") or "").strip()
        if decision == "reject" and not comment:
            errors["comment"] = "tell the holder why it is not accepted"
        if errors:
            return await show_review(page, review_id, CHECK_FIELDS, 422, errors=errors, typed=form)
        body: Body = {
            "comment": comment or None,
            "edits": edits,
            "internal_equivalent_id": form.get("internal_equivalent_id") or None,
        }
        try:
            answer = await page.caller.send(
                "POST", "review", f"/reviews/{review_id}/{decision}",
                str(form.get("form_id") or "") or None, json=body,
            )  # fmt: skip
        except ApiError as exc:
            if exc.status == 422:
                errors = _api_errors(exc)
                return await show_review(page, review_id, CHECK_FIELDS, 422, errors=errors,
                                         typed=form)  # fmt: skip
            if exc.status not in (403, 404, 409):
                raise
            return await show_review(page, review_id, _conflict(exc), exc.status)
        done = "Validated" if decision == "validate" else "Rejected"
        notify(page.request, f"{done}: {detail['holder_name']}'s {detail['credential_type_name']}.")
        return redirect(page.request, with_position("/reviews", answer))

    return router


async def show_review(
    page: Page, review_id: UUID, message: str | None = None, status: int = 200, *,
    errors: dict[str, str] | None = None, min_position: str | None = None,
    typed: Any = None,
) -> Response:  # fmt: skip
    """The review page; `message` on top (someone else was first), `errors` by field, and
    what the reviewer had typed (`typed`, the refused form) kept in the fields."""
    require_reviewer(page)
    items = await queue_items(page, min_position)
    index = next((n for n, i in enumerate(items) if i["review_id"] == str(review_id)), None)
    if index is None:
        return page.render("review_gone.html", 404 if status == 200 else status,
                           message=message)  # fmt: skip
    item = items[index]
    item["claim"] = claim_state(item, page)
    detail, types = await asyncio.gather(
        page.caller.get("views", f"/credentials/{item['credential_id']}"),
        lookups.credential_types(page.caller),
    )
    version = next((v for v in detail["versions"] if v["version_id"] == item["version_id"]),
                   detail["versions"][-1])  # fmt: skip
    neighbours = {
        "previous": items[index - 1]["review_id"] if index > 0 else None,
        "next": items[index + 1]["review_id"] if index + 1 < len(items) else None,
    }
    return page.render(
        "review.html", status, item=item, credential=detail, version=version,
        types=[t for t in types if not t.get("archived")], neighbours=neighbours,
        message=message, errors=errors or {}, position=index + 1, total=len(items),
        typed=dict(typed.items()) if typed is not None else None,
    )  # fmt: skip


def _api_errors(exc: ApiError) -> dict[str, str]:
    found = exc.field_errors()
    edits = {k.removeprefix("edits."): v for k, v in found.items()}
    return edits or {"form": exc.detail}


def _conflict(exc: ApiError) -> str:
    if exc.status == 409:
        return f"Someone else got there first: {exc.detail}. Here is the item as it is now."
    return exc.detail
