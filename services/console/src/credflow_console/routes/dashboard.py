"""The dashboard (admins, reviewers, client viewers): credentials by status, what expires in
the next 30/60/90 days, compliance per company and the review queue's size and age, as
numbers and server-rendered SVG charts; every figure links to the list it counts."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from credflow_console.access import sees_everyone
from credflow_console.charts import Bar, bar_chart, stacked_chart
from credflow_console.routes.credentials import STATUS_LABELS
from credflow_console.web import RefusedError, SignedIn

Body = dict[str, Any]
TONES = {"verified": "ok", "submitted": "ok", "pending": "info", "not_accepted": "bad",
         "expired": "bad", "revoked": "bad", "suspended": "warn"}  # fmt: skip
ORDER = ("verified", "submitted", "pending", "not_accepted", "expired", "suspended", "revoked")


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/dashboard", response_class=HTMLResponse)
    async def dashboard(page: SignedIn) -> Response:
        if not sees_everyone(page.person):
            raise RefusedError(403, "The dashboard shows the whole organisation.")
        figures, companies = await asyncio.gather(
            page.caller.get("views", "/summary"), page.caller.get("views", "/companies")
        )
        statuses, status_height = bar_chart([
            Bar(STATUS_LABELS[s], figures["statuses"].get(s, 0),
                f"/network/credentials?status={s}", TONES[s])
            for s in ORDER
        ])  # fmt: skip
        expiring, expiring_height = bar_chart([
            Bar(f"Next {days} days", count, f"/network/credentials?expiring_within_days={days}",
                "warn")
            for days, count in figures["expiring"].items()
        ])  # fmt: skip
        active = [c for c in companies["items"] if not c["archived"]]
        compliance, compliance_height = stacked_chart([
            (c["name"], [
                (c["compliant"], "ok", f"/network/companies/{c['company_id']}?show=compliant"),
                (c["not_compliant"], "bad",
                 f"/network/companies/{c['company_id']}?show=not_compliant"),
            ])
            for c in active
        ])  # fmt: skip
        return page.render(
            "dashboard.html", figures=figures, statuses=statuses, status_height=status_height,
            expiring=expiring, expiring_height=expiring_height, compliance=compliance,
            compliance_height=compliance_height, total=sum(figures["statuses"].values()),
        )  # fmt: skip

    return router
