"""The projection's query API (read-only), under `/organisations/{org}`.

Who sees what: admins, reviewers, client viewers and holders of `users:manage` see every
worker of their organisation; managers see themselves and the people they manage; everyone
else (workers) sees only their own credentials and profile. Another organisation's data is a
404, as is a credential the caller may not see.

Every view takes `min_position` (the `position` a write returned): the request first waits,
up to `CREDFLOW_MIN_POSITION_WAIT_S`, until the projection has applied that event, and says in
the `Projection-Caught-Up` header whether it had.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response

from credflow_common import access_rules
from credflow_common.access_rules import ORG_WIDE_ROLES
from credflow_common.auth import CurrentPrincipal, Principal
from credflow_common.positions import wait_until_applied
from credflow_common.problems import FieldError, ProblemError
from credflow_common.service import ServiceContext
from credflow_projection import queries, queue, summary, workforce
from credflow_projection.projector import CONSUMER
from credflow_projection.queries import STATUSES, Conn, CredentialFilters, Scope

Body = dict[str, Any]
Clock = Callable[[], datetime]
MinPosition = Annotated[
    UUID | None,
    Query(description="Wait (bounded) until the views include this event (a write's position)."),
]
Limit = Annotated[int, Query(ge=1, le=500)]
Compliant = Annotated[
    bool | None, Query(description="Only the workers who are (true) or are not (false) compliant.")
]
Cursor = Annotated[
    str | None, Query(max_length=1000, description="The `next_cursor` of the previous page.")
]


async def viewing(
    conn: Conn, principal: Principal, org: UUID
) -> tuple[queries.Organisation, Scope]:
    """The organisation being viewed, and whose credentials the caller may see in it."""
    return await queries.organisation(conn, org), await scope_of(conn, principal)


async def scope_of(conn: Conn, principal: Principal) -> Scope:
    if access_rules.sees_everyone(principal):
        return Scope(everyone=True)
    holders = {principal.user_id}
    if principal.has_role("manager"):
        holders.update(await workforce.managees(conn, principal.organisation_id, principal.user_id))
    return Scope(everyone=False, holder_ids=frozenset(holders))


def credential_filters(
    status: list[str] | None,
    credential_type_id: UUID | None,
    company_id: UUID | None,
    worker_id: UUID | None,
    expiring_within_days: int | None,
    q: str | None,
) -> CredentialFilters:
    unknown = [s for s in status or [] if s not in STATUSES or s == "required"]
    if unknown:
        virtual = (
            " (`required` rows are not credentials: the worker profile and the company"
            " view list them)" if "required" in unknown else ""
        )  # fmt: skip
        raise ProblemError(
            422, "Unprocessable Content", "unknown status filter",
            errors=[FieldError("query.status", f"{', '.join(unknown)}: use one of "
                               + ", ".join(s for s in STATUSES if s != "required")
                               + virtual)],
        )  # fmt: skip
    return CredentialFilters(
        statuses=status or (),
        credential_type_id=credential_type_id,
        company_id=company_id,
        holder_id=worker_id,
        expiring_within_days=expiring_within_days,
        text=q or None,
    )


def build_router(context: ServiceContext, clock: Clock = lambda: datetime.now(UTC)) -> APIRouter:
    router = APIRouter(prefix="/organisations/{org}", tags=["views"])
    wait_s = context.runtime.min_position_wait_s

    async def caught_up(response: Response, position: UUID | None) -> None:
        if position is None:
            return
        reached = await wait_until_applied(context.pool, CONSUMER, position, wait_s)
        response.headers["Projection-Caught-Up"] = "true" if reached else "false"

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
        chosen = credential_filters(status, credential_type_id, company_id, worker_id,
                         expiring_within_days, q)  # fmt: skip
        await caught_up(response, min_position)
        async with context.pool.connection() as conn:
            organisation, scope = await viewing(conn, principal, org)
            try:
                page = await queries.credentials(
                    conn, organisation, scope, chosen, organisation.today(clock()), limit, cursor
                )
            except ValueError as exc:
                raise _bad_cursor() from exc
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
        chosen = credential_filters(status, credential_type_id, company_id, worker_id, None, q)
        await caught_up(response, min_position)
        everyone = principal.has_role(*ORG_WIDE_ROLES)
        async with context.pool.connection() as conn:
            organisation, scope = await viewing(conn, principal, org)
            return await summary.summary(
                conn, organisation, scope, chosen, organisation.today(clock()),
                None if everyone else principal.user_id,
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
        await caught_up(response, min_position)
        async with context.pool.connection() as conn:
            organisation = await queries.organisation(conn, org)
            detail = await queries.credential_detail(
                conn, organisation, credential_id, organisation.today(clock())
            )
            scope = await scope_of(conn, principal)
        if detail is None or not (scope.everyone or detail["holder_id"] in scope.holder_ids):
            raise ProblemError(404, "Not Found", f"no credential {credential_id}")
        return detail

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
        await caught_up(response, min_position)
        async with context.pool.connection() as conn:
            organisation, scope = await viewing(conn, principal, org)
            try:
                page = await workforce.workers(
                    conn, organisation, scope, company_id, q, limit=limit, cursor=cursor,
                    today=organisation.today(clock()), compliant=compliant,
                )  # fmt: skip
            except ValueError as exc:
                raise _bad_cursor() from exc
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
        await caught_up(response, min_position)
        async with context.pool.connection() as conn:
            organisation, scope = await viewing(conn, principal, org)
            worker = await workforce.person(conn, org, worker_id)
            if worker is None or not (scope.everyone or worker_id in scope.holder_ids):
                raise ProblemError(404, "Not Found", f"no worker {worker_id}")
            profiles = await _profiles(conn, organisation, [worker], clock())
        return profiles[0]

    @router.get("/companies")
    async def companies(
        org: UUID, principal: CurrentPrincipal, response: Response, min_position: MinPosition = None
    ) -> Body:
        """Companies with their active workers and how many are compliant."""
        principal.require_organisation(org)
        require_views_of_others(principal)
        await caught_up(response, min_position)
        async with context.pool.connection() as conn:
            organisation, scope = await viewing(conn, principal, org)
            items = await workforce.companies(
                conn, organisation, scope, organisation.today(clock())
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
        await caught_up(response, min_position)
        async with context.pool.connection() as conn:
            company = await workforce.company(conn, org, company_id)
            if company is None:
                raise ProblemError(404, "Not Found", f"no company {company_id}")
            organisation, scope = await viewing(conn, principal, org)
            try:
                page = await workforce.workers(
                    conn, organisation, scope, company_id, None, limit=limit, cursor=cursor,
                    today=organisation.today(clock()), compliant=compliant,
                )  # fmt: skip
            except ValueError as exc:
                raise _bad_cursor() from exc
            profiles = await _profiles(conn, organisation, page.items, clock())
        return {"company": company, "workers": profiles, "next_cursor": page.next_cursor}

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
        await caught_up(response, min_position)
        async with context.pool.connection() as conn:
            try:
                chosen = queue.QueueFilters(credential_type_id, company_id, import_id)
                page = await queue.review_queue(conn, org, principal.user_id, limit, cursor, chosen)
            except ValueError as exc:
                raise _bad_cursor() from exc
        return {"items": page.items, "next_cursor": page.next_cursor}

    return router


async def _profiles(
    conn: Conn, organisation: queries.Organisation, workers: list[Body], now: datetime
) -> list[Body]:
    """Each worker with their credentials, `required` rows, and compliance."""
    today = organisation.today(now)
    ids = [w["user_id"] for w in workers]  # already limited to the caller's scope
    states = await workforce.compliance(conn, organisation, ids, today)
    held = await queries.credentials_by_holder(conn, organisation, ids, today)
    profiles = []
    for worker in workers:
        state = states[worker["user_id"]]
        required_rows = [
            {
                "credential_id": None,
                "credential_type_id": r["credential_type_id"],
                "credential_type_name": r["credential_type_name"],
                "status": "required",
                "expiring_soon": False,
            }
            for r in state.requirements
            if r["state"] == "required"
        ]
        profiles.append(
            {
                **worker,
                "compliant": state.compliant,
                "requirements": state.requirements,
                "credentials": held[worker["user_id"]] + required_rows,
            }
        )
    return profiles


def require_views_of_others(principal: Principal) -> None:
    if not access_rules.sees_others(principal):
        raise ProblemError(403, "Forbidden", "workers see their own profile and credentials")


def _bad_cursor() -> ProblemError:
    return ProblemError(
        422, "Unprocessable Content", "invalid cursor",
        errors=[FieldError("query.cursor", "use the next_cursor of a previous page")],
    )  # fmt: skip
