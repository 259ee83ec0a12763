"""The caller's review queue, as the views know it (with the holder's company)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from credflow_common.auth import CurrentPrincipal
from credflow_projection import queue
from credflow_projection.inputs import Body, Cursor, Limit, MinPosition, one_page
from credflow_projection.service import Views


def build(views: Views) -> APIRouter:
    router = APIRouter(prefix="/organisations/{org}", tags=["views"])

    @router.get("/review-queue")
    async def review_queue(
        org: UUID,
        principal: CurrentPrincipal,
        response: Response,
        credential_type_id: UUID | None = None,
        company_id: UUID | None = None,
        import_id: UUID | None = None,
        limit: Limit = 100,
        cursor: Cursor = None,
        min_position: MinPosition = None,
    ) -> Body:
        """Open review items routed to the caller, oldest first, with their claim state and
        the holder's company; filters: a type, a company, an import."""
        principal.require_organisation(org)
        await views.caught_up(response, min_position)
        async with views.pool.connection() as conn:
            chosen = queue.QueueFilters(credential_type_id, company_id, import_id)
            page = await one_page(queue.review_queue(
                conn, org, principal.user_id, limit=limit, cursor=cursor, chosen=chosen
            ))  # fmt: skip
        return {"items": page.items, "next_cursor": page.next_cursor}

    return router
