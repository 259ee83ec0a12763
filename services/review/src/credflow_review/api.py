"""The review service's HTTP API: the caller's queue, claims and decisions, bulk approval.

Only the item's routed reviewers or the organisation's admins act on it; nobody reviews their
own credential; a decision on a superseded version is a 409; a rejection needs a comment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from pydantic import Field

from credflow_common import idempotency
from credflow_common.auth import CurrentPrincipal, Principal
from credflow_common.errors import ForbiddenError, InvalidError
from credflow_common.eventstore import Metadata, RecordedEvent
from credflow_common.inputs import Input
from credflow_common.problems import FieldError, ProblemError
from credflow_common.service import ServiceContext
from credflow_contracts.events.values import ReviewEdits
from credflow_review import domain
from credflow_review.domain import Actor, Claim, Reject, Release, ReviewError, Validate
from credflow_review.service import Conn, Reviews

Body = dict[str, Any]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


class ValidateInput(Input):
    comment: str | None = Field(default=None, max_length=4000)
    edits: ReviewEdits | None = None
    internal_equivalent_id: UUID | None = None


class RejectInput(Input):
    comment: str = Field(max_length=4000, description="Required: tell the holder why.")
    edits: ReviewEdits | None = None
    internal_equivalent_id: UUID | None = Field(
        default=None, description="Kept with the credential: its next version counts as it."
    )


class BulkApproveInput(Input):
    review_ids: list[UUID] | None = Field(default=None, max_length=20_000)
    import_id: UUID | None = None
    comment: str | None = Field(default=None, max_length=4000)


def build_router(context: ServiceContext, reviews: Reviews) -> APIRouter:
    router = APIRouter(prefix="/organisations/{org}/reviews", tags=["reviews"])

    def actor(principal: Principal) -> Actor:
        return Actor(principal.user_id, principal.has_role("admin"))

    async def act(
        conn: Conn,
        request: Request,
        principal: Principal,
        org: UUID,
        review_id: UUID,
        command: domain.Command,
    ) -> tuple[Body, list[RecordedEvent]]:
        equivalent = getattr(command, "internal_equivalent_id", None)
        if equivalent is not None and not await reviews.replica.credential_type(
            conn, org, equivalent
        ):
            raise InvalidError("no such credential type", "body.internal_equivalent_id")
        review, version, review_context = await reviews.load(conn, org, review_id)
        events = domain.decide(command, review, review_context)
        metadata = Metadata(org, request.state.correlation_id, actor_id=principal.user_id)
        after, recorded = await reviews.append(conn, review_id, version, events, metadata, review)
        return {
            "review_id": str(review_id),
            "status": after.status if after else None,
            "claimed_by": str(after.claimed_by) if after and after.claimed_by else None,
            "version": version + len(recorded),
        }, recorded

    async def command_endpoint(
        request: Request,
        principal: Principal,
        org: UUID,
        review_id: UUID,
        key: str | None,
        payload: Any,
        command: domain.Command,
    ) -> Body:
        principal.require_organisation(org)

        async def work(conn: Conn) -> tuple[Body, Sequence[RecordedEvent]]:
            return await act(conn, request, principal, org, review_id, command)

        return await idempotency.run_command(
            context.pool,
            idempotency.Caller(org, principal.user_id),
            key,
            request.url.path,
            payload,
            work,
        )

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
        clauses = ["organisation_id = %s", "status = 'requested'"]
        params: list[Any] = [org]
        if not everyone:
            clauses.append("%s = ANY(reviewer_ids)")
            params.append(principal.user_id)
        if import_id is not None:
            clauses.append("import_id = %s")
            params.append(import_id)
        where = " AND ".join(clauses)  # constant clauses; values are parameters
        query = (
            "SELECT review_id, credential_id, version_id, version_number, holder_id,"  # noqa: S608
            " credential_type_id, routing, reviewer_ids, claimed_by, import_id, requested_at"
            f" FROM reviews WHERE {where} ORDER BY requested_at, review_id LIMIT %s"
        )
        async with context.pool.connection() as conn:
            cursor = await conn.execute(
                query,
                (*params, limit),
            )
            rows = await cursor.fetchall()
        names = (
            "review_id",
            "credential_id",
            "version_id",
            "version_number",
            "holder_id",
            "credential_type_id",
            "routing",
            "reviewer_ids",
            "claimed_by",
            "import_id",
            "requested_at",
        )
        items = [
            {
                name: (
                    str(v)
                    if isinstance(v, UUID)
                    else v.isoformat()
                    if hasattr(v, "isoformat")
                    else [str(x) for x in v]
                    if isinstance(v, list)
                    else v
                )
                for name, v in zip(names, row, strict=True)
            }
            for row in rows
        ]
        return {"items": items}

    @router.post("/{review_id}/claim")
    async def claim(
        org: UUID,
        review_id: UUID,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        return await command_endpoint(
            request, principal, org, review_id, idempotency_key, "claim", Claim(actor(principal))
        )

    @router.post("/{review_id}/unclaim")
    async def unclaim(
        org: UUID,
        review_id: UUID,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        return await command_endpoint(
            request,
            principal,
            org,
            review_id,
            idempotency_key,
            "unclaim",
            Release(actor(principal)),
        )

    @router.post("/{review_id}/validate")
    async def validate(
        org: UUID,
        review_id: UUID,
        body: ValidateInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        """Accept the version (status `verified`), with any edits made while reviewing and the
        internal equivalent it counts as."""
        command = Validate(actor(principal), body.comment, body.edits, body.internal_equivalent_id)
        return await command_endpoint(
            request,
            principal,
            org,
            review_id,
            idempotency_key,
            body.model_dump(mode="json"),
            command,
        )

    @router.post("/{review_id}/reject")
    async def reject(
        org: UUID,
        review_id: UUID,
        body: RejectInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        """Reject the version (status `not_accepted`); the comment is sent to the holder."""
        return await command_endpoint(
            request,
            principal,
            org,
            review_id,
            idempotency_key,
            body.model_dump(mode="json"),
            Reject(actor(principal), body.comment, body.edits, body.internal_equivalent_id),
        )

    async def may_bulk_approve(
        conn: Conn, principal: Principal, org: UUID, import_id: UUID | None
    ) -> bool:
        """Admins, reviewers with open items routed to them, and the uploader of the import
        named (each item is still checked on its own)."""
        if principal.has_role("admin"):
            return True
        cursor = await conn.execute(
            "SELECT EXISTS (SELECT 1 FROM reviews WHERE organisation_id = %s"
            " AND status = 'requested' AND reviewer_ids @> ARRAY[%s]::uuid[])",
            (org, principal.user_id),
        )
        row = await cursor.fetchone()
        if row and row[0]:
            return True
        if import_id is None:
            return False
        cursor = await conn.execute(
            "SELECT review_id FROM reviews WHERE organisation_id = %s AND import_id = %s LIMIT 1",
            (org, import_id),
        )
        first = await cursor.fetchone()
        if first is None:
            return False
        review, _, _ = await reviews.load(conn, org, first[0])
        return review is not None and review.submitted_by == principal.user_id

    @router.post("/bulk-approve")
    async def bulk_approve(
        org: UUID, body: BulkApproveInput, request: Request, principal: CurrentPrincipal
    ) -> Body:
        """Validate many items (a list, or every open item of an import) in one call. Each item
        is decided on its own: one that cannot be approved is reported, the others go ahead."""
        principal.require_organisation(org)
        if (body.review_ids is None) == (body.import_id is None):
            raise ProblemError(
                422,
                "Request is not valid",
                "give review_ids or import_id",
                errors=[FieldError("body.review_ids", "give review_ids or import_id")],
            )
        async with context.pool.connection() as conn:
            if not await may_bulk_approve(conn, principal, org, body.import_id):
                raise ForbiddenError(
                    "only admins, the item's reviewers and an import's uploader approve in bulk"
                )
            if body.review_ids is not None:
                ids = list(dict.fromkeys(body.review_ids))
            else:
                cursor = await conn.execute(
                    "SELECT review_id FROM reviews WHERE organisation_id = %s AND import_id = %s"
                    " AND status = 'requested' ORDER BY requested_at",
                    (org, body.import_id),
                )
                ids = [row[0] for row in await cursor.fetchall()]
            approved, failures = 0, []
            for start in range(0, len(ids), 100):
                async with conn.transaction():
                    for review_id in ids[start : start + 100]:
                        try:
                            async with conn.transaction():  # one item: all or nothing
                                command = Validate(actor(principal), body.comment, bulk=True)
                                await act(conn, request, principal, org, review_id, command)
                            approved += 1
                        except ReviewError as exc:
                            failures.append(
                                {
                                    "review_id": str(review_id),
                                    "status": exc.status,
                                    "error": exc.message,
                                }
                            )
        return {"approved": approved, "failed": len(failures), "failures": failures}

    return router
