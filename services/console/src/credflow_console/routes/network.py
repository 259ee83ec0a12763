"""My network (client viewers, and admins and reviewers, who see the whole organisation):
every worker's credentials with filters and paging, the workers, the companies and a company's
workers with their credentials (`required` rows included) and compliance. Every list
downloads as CSV through the views' streamed export."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from credflow_console import lookups
from credflow_console.access import sees_everyone
from credflow_console.routes.credentials import STATUS_LABELS
from credflow_console.web import Page, RefusedError, SignedIn, parse_uuid

Body = dict[str, Any]
Text = Annotated[str | None, Query(max_length=200)]
LIST_STATUSES = ("verified", "submitted", "pending", "not_accepted", "expired", "revoked",
                 "suspended")  # fmt: skip
PAGE_SIZE = 50
COMPLIANCE = {"compliant": "true", "not_compliant": "false"}  # the views' `compliant` filter


def require_network(page: Page) -> None:
    if not sees_everyone(page.person):
        raise RefusedError(403, "These pages show the whole organisation's workers.")


def credential_filters(request_query: Any) -> Body:
    """The credentials list's filters as the views API takes them; what is not valid is
    dropped (a list page shows everything rather than an error for a stale link)."""
    statuses = [s for s in request_query.getlist("status") if s in LIST_STATUSES]
    days = str(request_query.get("expiring_within_days") or "").strip()
    return {
        "status": statuses,
        "credential_type_id": str(parse_uuid(request_query.get("credential_type_id")) or ""),
        "company_id": str(parse_uuid(request_query.get("company_id")) or ""),
        "worker_id": str(parse_uuid(request_query.get("worker_id")) or ""),
        "expiring_within_days": days if days.isdigit() and int(days) <= 3650 else "",
        "q": str(request_query.get("q") or "")[:200],
    }


def query_string(filters: Body, **extra: str) -> str:
    pairs = [(k, v) for k, values in filters.items()
             for v in (values if isinstance(values, list) else [values]) if v]  # fmt: skip
    pairs += [(k, v) for k, v in extra.items() if v]
    return urlencode(pairs)


async def download(page: Page, name: str, filters: Body) -> Response:
    """A list as CSV, streamed from the views' export as it comes."""
    require_network(page)
    response = await page.caller.stream("views", f"/{name}", **filters)
    return StreamingResponse(
        response.aiter_bytes(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
        background=BackgroundTask(response.aclose),
    )  # fmt: skip


def build_router() -> APIRouter:
    router = APIRouter(prefix="/network")

    @router.get("/credentials", response_class=HTMLResponse)
    async def credentials(page: SignedIn, cursor: Text = None) -> Response:
        require_network(page)
        filters = credential_filters(page.request.query_params)
        found, types, companies = await asyncio.gather(
            page.caller.get("views", "/credentials", limit=PAGE_SIZE, cursor=cursor, **filters),
            lookups.credential_types(page.caller),
            page.caller.get("views", "/companies"),
        )
        worker = None
        if filters["worker_id"]:
            worker = await page.caller.get("views", f"/workers/{filters['worker_id']}")
        return page.render(
            "network_credentials.html", items=found["items"], next_cursor=found["next_cursor"],
            filters=filters, types=types, companies=companies["items"], worker=worker,
            labels=STATUS_LABELS, statuses=LIST_STATUSES, query=query_string(filters),
            first_page=cursor is None,
        )  # fmt: skip

    @router.get("/credentials.csv")
    async def credentials_csv(page: SignedIn) -> Response:
        return await download(page, "credentials.csv",
                              credential_filters(page.request.query_params))  # fmt: skip

    @router.get("/workers.csv")
    async def workers_csv(page: SignedIn, q: Text = None, company_id: Text = None,
                          show: Text = None) -> Response:  # fmt: skip
        chosen = {"q": q, "company_id": str(parse_uuid(company_id) or ""),
                  "compliant": COMPLIANCE.get(show or "")}  # fmt: skip
        return await download(page, "workers.csv", chosen)

    @router.get("/companies.csv")
    async def companies_csv(page: SignedIn) -> Response:
        return await download(page, "companies.csv", {})

    @router.get("/workers", response_class=HTMLResponse)
    async def workers(page: SignedIn, q: Text = None, company_id: Text = None,
                      show: Text = None, cursor: Text = None) -> Response:  # fmt: skip
        require_network(page)
        company = str(parse_uuid(company_id) or "")
        show = show if show in COMPLIANCE else ""
        found, companies = await asyncio.gather(
            page.caller.get("views", "/workers", q=q, company_id=company, cursor=cursor,
                            limit=PAGE_SIZE, compliant=COMPLIANCE.get(show)),
            page.caller.get("views", "/companies"),
        )  # fmt: skip
        return page.render(
            "network_workers.html", people=found["items"], next_cursor=found["next_cursor"],
            q=q or "", company_id=company, show=show, companies=companies["items"],
            query=query_string({"q": q or "", "company_id": company, "show": show}),
            first_page=not cursor,
        )  # fmt: skip

    @router.get("/companies", response_class=HTMLResponse)
    async def companies(page: SignedIn) -> Response:
        require_network(page)
        found = await page.caller.get("views", "/companies")
        return page.render("network_companies.html", companies=found["items"])

    @router.get("/companies/{company_id}", response_class=HTMLResponse)
    async def company(page: SignedIn, company_id: str, show: Text = None,
                      cursor: Text = None) -> Response:  # fmt: skip
        require_network(page)
        chosen = parse_uuid(company_id)
        if chosen is None:
            raise RefusedError(404, "There is no such company.")
        show = show if show in COMPLIANCE else ""
        found, summary = await asyncio.gather(
            page.caller.get("views", f"/companies/{chosen}/workers", cursor=cursor,
                            limit=PAGE_SIZE, compliant=COMPLIANCE.get(show)),
            page.caller.get("views", "/companies"),
        )  # fmt: skip
        counts: Body = next((c for c in summary["items"] if c["company_id"] == str(chosen)), {})
        people = found["workers"]
        return page.render(
            "network_company.html", company=found["company"], counts=counts, people=people,
            next_cursor=found["next_cursor"], show=show, labels=STATUS_LABELS,
            first_page=not cursor,
        )  # fmt: skip

    return router
