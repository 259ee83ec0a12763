"""The views as CSV downloads, streamed in constant memory: worker credentials (with the
list's filters, straight from PostgreSQL's COPY), workers with their compliance, and companies
with their compliance counts. Cells a spreadsheet would read as a formula are prefixed with a
quote."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from credflow_common.auth import CurrentPrincipal, Principal
from credflow_common.openapi import CSV_RESPONSE
from credflow_common.spreadsheets import safe_cell
from credflow_projection import queries, workforce
from credflow_projection.inputs import credential_filters
from credflow_projection.queries import Conn
from credflow_projection.service import Views, require_views_of_others, viewing

Row = dict[str, Any]
Clock = Callable[[], datetime]
WORKER_COLUMNS = (
    "user_id", "name", "email", "company_name", "compliant", "requirements_met",
    "requirements", "missing",
)  # fmt: skip
COMPANY_COLUMNS = ("company_id", "name", "archived", "workers", "compliant", "not_compliant")
WORKERS_PER_READ = 1000
FLUSH_BYTES = 64 * 1024


def build(views: Views) -> APIRouter:
    clock = views.clock
    router = APIRouter(prefix="/organisations/{org}", tags=["views"])

    def download(name: str, columns: Sequence[str],
                 rows: Callable[[Conn], AsyncIterator[Row]]) -> StreamingResponse:  # fmt: skip
        async def chunks(conn: Conn) -> AsyncIterator[str]:
            async for chunk in csv_chunks(columns, rows(conn)):
                yield chunk

        return stream(name, chunks)

    def stream(name: str, chunks: Callable[[Conn], AsyncIterator[str | bytes]]
               ) -> StreamingResponse:  # fmt: skip
        async def body() -> AsyncIterator[str | bytes]:
            async with views.pool.connection() as conn:
                async for chunk in chunks(conn):
                    yield chunk

        return StreamingResponse(
            body(), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )  # fmt: skip

    @router.get("/credentials.csv", responses=CSV_RESPONSE)
    async def export_credentials(
        org: UUID,
        principal: CurrentPrincipal,
        status: Annotated[list[str] | None, Query()] = None,
        credential_type_id: UUID | None = None,
        company_id: UUID | None = None,
        worker_id: UUID | None = None,
        expiring_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
    ) -> StreamingResponse:
        """The worker credentials view as CSV, with the same filters."""
        principal.require_organisation(org)
        chosen = credential_filters(
            status, credential_type_id=credential_type_id, company_id=company_id,
            worker_id=worker_id, expiring_within_days=expiring_within_days, q=q,
        )  # fmt: skip

        async def copied(conn: Conn) -> AsyncIterator[bytes]:
            organisation, scope = await viewing(conn, principal, org)
            today = organisation.today(clock())
            async for chunk in queries.export_credentials(conn, organisation, scope, chosen,
                                                          today):  # fmt: skip
                yield chunk

        return stream("credentials.csv", copied)

    @router.get("/workers.csv", responses=CSV_RESPONSE)
    async def export_workers(
        org: UUID,
        principal: CurrentPrincipal,
        company_id: UUID | None = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        compliant: bool | None = None,
    ) -> StreamingResponse:
        """The workers view as CSV: each active worker the caller may see, by name, with
        compliance, how many of their requirements are met and the types still missing."""
        principal.require_organisation(org)
        chosen = WorkerFilters(company_id, q, compliant)
        return download("workers.csv", WORKER_COLUMNS,
                        lambda conn: _workers(conn, principal, org, chosen, clock()))  # fmt: skip

    @router.get("/companies.csv", responses=CSV_RESPONSE)
    async def export_companies(org: UUID, principal: CurrentPrincipal) -> StreamingResponse:
        """The companies view as CSV: workers and how many are compliant."""
        principal.require_organisation(org)
        require_views_of_others(principal)

        async def rows(conn: Conn) -> AsyncIterator[Row]:
            organisation, scope = await viewing(conn, principal, org)
            for row in await workforce.companies(conn, organisation, scope,
                                               organisation.today(clock())):  # fmt: skip
                yield row

        return download("companies.csv", COMPANY_COLUMNS, rows)

    return router


@dataclass(frozen=True)
class WorkerFilters:
    company_id: UUID | None
    text: str | None
    compliant: bool | None


async def _workers(conn: Conn, principal: Principal, org: UUID, chosen: WorkerFilters,
                   now: datetime) -> AsyncIterator[Row]:  # fmt: skip
    """Workers a thousand at a time by the list's own keyset paging, each read with its
    compliance, so memory stays flat however many there are."""
    organisation, scope = await viewing(conn, principal, org)
    today = organisation.today(now)
    cursor: str | None = None
    while True:
        page = await workforce.workers(
            conn, organisation, scope, chosen.company_id, chosen.text, limit=WORKERS_PER_READ,
            cursor=cursor, today=today, compliant=chosen.compliant,
        )  # fmt: skip
        states = await workforce.compliance(
            conn, organisation, [w["user_id"] for w in page.items], today
        )
        for worker in page.items:
            state = states[worker["user_id"]]
            met = [r for r in state.requirements if r["state"] == "met"]
            yield {
                **worker,
                "compliant": state.compliant,
                "requirements_met": len(met),
                "requirements": len(state.requirements),
                "missing": "; ".join(r["credential_type_name"] for r in state.requirements
                                     if r["state"] != "met"),
            }  # fmt: skip
        if (cursor := page.next_cursor) is None:
            return


async def csv_chunks(columns: Sequence[str], rows: AsyncIterator[Row]) -> AsyncIterator[str]:
    """A header, then the rows, in pieces of about 64 KiB."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    async for row in rows:
        writer.writerow(_cells(columns, row))
        if buffer.tell() > FLUSH_BYTES:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cells(columns: Iterable[str], row: Row) -> list[Any]:
    return [safe_cell(row[column]) for column in columns]
