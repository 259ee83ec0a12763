"""Workers with their compliance, one worker's profile, companies and their workers. Managers
see the people they manage; workers only their own profile (companies are for staff)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from credflow_common.auth import CurrentPrincipal
from credflow_common.problems import ProblemError
from credflow_projection import workforce
from credflow_projection.inputs import Body, Compliant, Cursor, Limit, MinPosition, one_page
from credflow_projection.service import Views, profiles, require_views_of_others, viewing


def build(views: Views) -> APIRouter:
    router = APIRouter(prefix="/organisations/{org}", tags=["views"])

    @router.get("/workers")
    async def workers(
        org: UUID,
        principal: CurrentPrincipal,
        response: Response,
        company_id: UUID | None = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        compliant: Compliant = None,
        limit: Limit = 50,
        cursor: Cursor = None,
        min_position: MinPosition = None,
    ) -> Body:
        """Active workers the caller may see, by name, each with compliance."""
        principal.require_organisation(org)
        await views.caught_up(response, min_position)
        async with views.pool.connection() as conn:
            organisation, scope = await viewing(conn, principal, org)
            page = await one_page(workforce.workers(
                conn, organisation, scope, company_id, q, limit=limit, cursor=cursor,
                today=organisation.today(views.clock()), compliant=compliant,
            ))  # fmt: skip
        return {"items": page.items, "next_cursor": page.next_cursor}

    @router.get("/workers/{worker_id}")
    async def worker_profile(
        org: UUID,
        worker_id: UUID,
        principal: CurrentPrincipal,
        response: Response,
        min_position: MinPosition = None,
    ) -> Body:
        """A worker's profile: their credentials, what is required of them (a `required` row
        for each required type they hold no credential of), and whether they are compliant."""
        principal.require_organisation(org)
        await views.caught_up(response, min_position)
        async with views.pool.connection() as conn:
            organisation, scope = await viewing(conn, principal, org)
            worker = await workforce.person(conn, org, worker_id)
            if worker is None or not (scope.everyone or worker_id in scope.holder_ids):
                raise ProblemError(404, "Not Found", f"no worker {worker_id}")
            found = await profiles(conn, organisation, [worker], views.clock())
        return found[0]

    @router.get("/companies")
    async def companies(
        org: UUID, principal: CurrentPrincipal, response: Response, min_position: MinPosition = None
    ) -> Body:
        """Companies with their active workers and how many are compliant."""
        principal.require_organisation(org)
        require_views_of_others(principal)
        await views.caught_up(response, min_position)
        async with views.pool.connection() as conn:
            organisation, scope = await viewing(conn, principal, org)
            items = await workforce.companies(
                conn, organisation, scope, organisation.today(views.clock())
            )
        return {"items": items}

    @router.get("/companies/{company_id}/workers")
    async def company_workers(
        org: UUID,
        company_id: UUID,
        principal: CurrentPrincipal,
        response: Response,
        compliant: Compliant = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Cursor = None,
        min_position: MinPosition = None,
    ) -> Body:
        """A company's workers, each with their credentials (including `required` rows) and
        compliance."""
        principal.require_organisation(org)
        require_views_of_others(principal)
        await views.caught_up(response, min_position)
        async with views.pool.connection() as conn:
            company = await workforce.company(conn, org, company_id)
            if company is None:
                raise ProblemError(404, "Not Found", f"no company {company_id}")
            organisation, scope = await viewing(conn, principal, org)
            page = await one_page(workforce.workers(
                conn, organisation, scope, company_id, None, limit=limit, cursor=cursor,
                today=organisation.today(views.clock()), compliant=compliant,
            ))  # fmt: skip
            found = await profiles(conn, organisation, page.items, views.clock())
        return {"company": company, "workers": found, "next_cursor": page.next_cursor}

    return router
