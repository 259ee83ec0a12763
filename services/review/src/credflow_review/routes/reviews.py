"""The caller's review queue, claims and decisions, bulk approval.

Only the item's routed reviewers or the organisation's admins act on it; nobody reviews their
own credential; a decision on a superseded version is a 409; a rejection needs a comment.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common.auth import CurrentPrincipal, Principal
from credflow_common.problems import FieldError, ProblemError
from credflow_common.requests import Asking, Body, unkeyed_command
from credflow_review import store
from credflow_review.domain import Actor, Claim, Reject, Release, Validate
from credflow_review.inputs import BulkApproveInput, RejectInput, ValidateInput
from credflow_review.service import Reviews


def _json(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list):
        return [str(x) for x in value]
    return value


def actor(principal: Principal) -> Actor:
    return Actor(principal.user_id, principal.has_role("admin"))


def build(pool: AsyncConnectionPool[AsyncConnection[Any]], reviews: Reviews) -> APIRouter:
    router = APIRouter(prefix="/organisations/{org}/reviews", tags=["reviews"])

    @router.get("")
    async def queue(
        org: UUID,
        principal: CurrentPrincipal,
        everyone: Annotated[bool, Query(description="admins: every open item")] = False,
        import_id: UUID | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Body:
        """Open review items routed to the caller, oldest first, with their claim state."""
        principal.require_organisation(org)
        if everyone and not principal.has_role("admin"):
            raise ProblemError(403, "Forbidden", "only admins see every reviewer's queue")
        reviewer = None if everyone else principal.user_id
        async with pool.connection() as conn:
            items = await store.open_items(conn, org, reviewer, import_id, limit)
        return {"items": [{name: _json(v) for name, v in item.items()} for item in items]}

    @router.post("/{review_id}/claim")
    async def claim(org: UUID, review_id: UUID, asking: Asking) -> Body:
        command = asking.command(org, "claim")
        return await reviews.decide(pool, command, review_id, Claim(actor(asking.principal)))

    @router.post("/{review_id}/unclaim")
    async def unclaim(org: UUID, review_id: UUID, asking: Asking) -> Body:
        command = asking.command(org, "unclaim")
        return await reviews.decide(pool, command, review_id, Release(actor(asking.principal)))

    @router.post("/{review_id}/validate")
    async def validate(org: UUID, review_id: UUID, body: ValidateInput, asking: Asking) -> Body:
        """Accept the version (status `verified`), with any edits made while reviewing and the
        internal equivalent it counts as."""
        decided = Validate(actor(asking.principal), body.comment, body.edits,
                           body.internal_equivalent_id)  # fmt: skip
        command = asking.command(org, body.model_dump(mode="json"))
        return await reviews.decide(pool, command, review_id, decided)

    @router.post("/{review_id}/reject")
    async def reject(org: UUID, review_id: UUID, body: RejectInput, asking: Asking) -> Body:
        """Reject the version (status `not_accepted`); the comment is sent to the holder."""
        decided = Reject(actor(asking.principal), body.comment, body.edits,
                         body.internal_equivalent_id)  # fmt: skip
        command = asking.command(org, body.model_dump(mode="json"))
        return await reviews.decide(pool, command, review_id, decided)

    @router.post("/bulk-approve")
    async def bulk_approve(
        org: UUID, body: BulkApproveInput, request: Request, principal: CurrentPrincipal
    ) -> Body:
        """Validate many items (a list, or every open item of an import) in one call. Each item
        is decided on its own: one that cannot be approved is reported, the others go ahead."""
        principal.require_organisation(org)
        if (body.review_ids is None) == (body.import_id is None):
            raise ProblemError(
                422, "Request is not valid", "give review_ids or import_id",
                errors=[FieldError("body.review_ids", "give review_ids or import_id")],
            )  # fmt: skip
        async with pool.connection() as conn:
            return await reviews.bulk_approve(conn, unkeyed_command(request, principal, org), body)

    return router
