"""Worker credentials: the filtered list, the dashboard's figures, one credential's detail.

Who sees what: admins, reviewers, client viewers and holders of `users:manage` see every
worker of their organisation; managers see themselves and the people they manage; everyone
else (workers) sees only their own credentials. Another organisation's data is a 404, as is a
credential the caller may not see. Every view takes `min_position` (the `position` a write
returned): the request first waits, up to `CREDFLOW_MIN_POSITION_WAIT_S`, until the projection
has applied that event, and says in the `Projection-Caught-Up` header whether it had.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from credflow_common.access_rules import ORG_WIDE_ROLES
from credflow_common.auth import CurrentPrincipal
from credflow_common.problems import ProblemError
from credflow_projection import queries, summary
from credflow_projection.inputs import (
    Body,
    Cursor,
    Limit,
    MinPosition,
    credential_filters,
    one_page,
)
from credflow_projection.service import Views, scope_of, viewing


def build(views: Views) -> APIRouter:
    router = APIRouter(prefix="/organisations/{org}", tags=["views"])

    @router.get("/credentials")
    async def worker_credentials(
        org: UUID,
        principal: CurrentPrincipal,
        response: Response,
        status: Annotated[list[str] | None, Query()] = None,
        credential_type_id: UUID | None = None,
        company_id: UUID | None = None,
        worker_id: UUID | None = None,
        expiring_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None,
        q: Annotated[str | None, Query(max_length=200, description="text search")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
        min_position: MinPosition = None,
    ) -> Body:
        """Worker credentials: every credential the caller may see, filtered and paged
        (ordered by worker name, then type name)."""
        principal.require_organisation(org)
        chosen = credential_filters(
            status, credential_type_id=credential_type_id, company_id=company_id,
            worker_id=worker_id, expiring_within_days=expiring_within_days, q=q,
        )  # fmt: skip
        await views.caught_up(response, min_position)
        async with views.pool.connection() as conn:
            organisation, scope = await viewing(conn, principal, org)
            page = await one_page(queries.credentials(
                conn, organisation, scope, chosen,
                today=organisation.today(views.clock()), limit=limit, cursor=cursor,
            ))  # fmt: skip
        return {"items": page.items, "next_cursor": page.next_cursor}

    @router.get("/summary")
    async def dashboard_summary(
        org: UUID,
        principal: CurrentPrincipal,
        response: Response,
        status: Annotated[list[str] | None, Query()] = None,
        credential_type_id: UUID | None = None,
        company_id: UUID | None = None,
        worker_id: UUID | None = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        min_position: MinPosition = None,
    ) -> Body:
        """The dashboard's figures: the credentials the caller may see (with the same filters
        as `credentials`) by status and expiring within 30/60/90 days, and the open review
        items' count and oldest request (the whole organisation's for admins, reviewers and
        client viewers; the caller's own otherwise)."""
        principal.require_organisation(org)
        chosen = credential_filters(
            status, credential_type_id=credential_type_id, company_id=company_id,
            worker_id=worker_id, expiring_within_days=None, q=q,
        )  # fmt: skip
        await views.caught_up(response, min_position)
        everyone = principal.has_role(*ORG_WIDE_ROLES)
        async with views.pool.connection() as conn:
            organisation, scope = await viewing(conn, principal, org)
            return await summary.summary(
                conn, organisation, scope, chosen, today=organisation.today(views.clock()),
                reviewer_id=None if everyone else principal.user_id,
            )  # fmt: skip

    @router.get("/credentials/{credential_id}")
    async def credential_detail(
        org: UUID,
        credential_id: UUID,
        principal: CurrentPrincipal,
        response: Response,
        min_position: MinPosition = None,
    ) -> Body:
        """One credential: every version with its media and review outcomes, and its audit
        trail (who did what, when, from which import)."""
        principal.require_organisation(org)
        await views.caught_up(response, min_position)
        async with views.pool.connection() as conn:
            organisation = await queries.organisation(conn, org)
            detail = await queries.credential_detail(
                conn, organisation, credential_id, organisation.today(views.clock())
            )
            scope = await scope_of(conn, principal)
        if detail is None or not (scope.everyone or detail["holder_id"] in scope.holder_ids):
            raise ProblemError(404, "Not Found", f"no credential {credential_id}")
        return detail

    return router
