"""People a person looks after: a manager's team (their managees with compliance), and any
worker for admins and reviewers, searchable and paged; each links to that worker's
credentials, where credentials are added for them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from credflow_console.access import manages_everyone
from credflow_console.web import RefusedError, SignedIn

Text = Annotated[str | None, Query(max_length=200)]


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/team", response_class=HTMLResponse)
    async def team(page: SignedIn, q: Text = None, cursor: Text = None) -> Response:
        if not (page.person.has_role("manager") or manages_everyone(page.person)):
            raise RefusedError(403, "This page lists a manager's team.")
        found = await page.caller.get("views", "/workers", q=q, cursor=cursor, limit=50)
        people = [p for p in found["items"] if p["user_id"] != str(page.person.user_id)]
        return page.render("team.html", people=people, q=q or "",
                           next_cursor=found.get("next_cursor"))  # fmt: skip

    return router
