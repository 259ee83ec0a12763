"""People of an organisation: created, listed, changed, deactivated, synced in bulk."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request

from credflow_common.auth import CurrentPrincipal
from credflow_common.db import contains_pattern
from credflow_common.problems import FieldError, ProblemError
from credflow_common.requests import Asking, Body, unkeyed_command
from credflow_contracts.events.base import Event
from credflow_contracts.events.directory import UserState
from credflow_contracts.ids import uuid7
from credflow_directory import domain
from credflow_directory.access import managed_by, people_of, require_admin
from credflow_directory.domain import NotFoundError
from credflow_directory.inputs import LegalHoldInput, UserInput, UserPatch
from credflow_directory.service import Directory, Entity
from credflow_directory.sync import parse_rows

SYNC_BODY = {
    "requestBody": {
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"users": {"type": "array"}}}
            },
            "text/csv": {"schema": {"type": "string"}},
        }
    }
}
NOT_NULL = ("email", "name", "roles", "group_ids", "permissions")


def build(directory: Directory) -> APIRouter:
    router = APIRouter(prefix="/organisations", tags=["directory"])

    def user(org: UUID, user_id: UUID) -> Entity[UserState]:
        return Entity(org, "user", user_id, UserState)

    @router.post("/{org}/users", status_code=201)
    async def create_user(org: UUID, body: UserInput, asking: Asking) -> Body:
        require_admin(asking.principal, org)
        new = UserState(user_id=uuid7(), status="active", **body.model_dump())
        return await directory.change(
            asking.command(org, body.model_dump(mode="json")),
            user(org, new.user_id),
            lambda current: domain.create_user(org, current, new),
            directory.user_references(org),
        )

    @router.get("/{org}/users")
    async def list_users(
        org: UUID,
        principal: CurrentPrincipal,
        status: Annotated[str | None, Query(pattern="^(active|deactivated)$")] = None,
        company_id: UUID | None = None,
        role: str | None = None,
        q: Annotated[str | None, Query(max_length=200, description="text in name or email")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        after: str | None = None,
    ) -> Body:
        mine, mine_params = people_of(managed_by(principal, org))
        clauses: list[str] = [mine] if mine else []
        params: list[Any] = list(mine_params)
        for clause, value in (
            ("state->>'status' = %s", status),
            ("state->>'company_id' = %s", str(company_id) if company_id else None),
            ("state->'roles' ? %s", role),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        if q:
            clauses.append("(state->>'name' ILIKE %s OR state->>'email' ILIKE %s)")
            params += [contains_pattern(q), contains_pattern(q)]
        users = await directory.many(
            org, "user", UserState, where=" AND ".join(clauses), params=params, limit=limit,
            after=after,
        )  # fmt: skip
        return {"items": users, "next": users[-1]["user_id"] if len(users) == limit else None}

    @router.get("/{org}/users/{user_id}")
    async def get_user(org: UUID, user_id: UUID, principal: CurrentPrincipal) -> Body:
        principal.require_organisation(org)
        if user_id != principal.user_id:
            manager_id = managed_by(principal, org)
            if manager_id is not None:  # a manager: only the people they manage
                where, params = people_of(manager_id)
                found = await directory.many(
                    org, "user", UserState, where=f"id = %s AND {where}",
                    params=[str(user_id), *params],
                )  # fmt: skip
                if not found:
                    raise NotFoundError("no such user")
                return found[0]
        return await directory.one(user(org, user_id))

    async def change_user(
        asking: Asking,
        target: Entity[UserState],
        payload: Any,
        decide: Callable[[UserState | None], Sequence[Event]],
    ) -> Body:
        require_admin(asking.principal, target.organisation_id)
        return await directory.change(
            asking.command(target.organisation_id, payload), target, decide,
            directory.user_references(target.organisation_id),
        )  # fmt: skip

    @router.patch("/{org}/users/{user_id}")
    async def update_user(org: UUID, user_id: UUID, body: UserPatch, asking: Asking) -> Body:
        changes = body.model_dump(exclude_unset=True)
        for name in NOT_NULL:
            if name in changes and changes[name] is None:
                raise ProblemError(
                    422, "Request is not valid", f"{name} cannot be null",
                    errors=[FieldError(f"body.{name}", "cannot be null")],
                )  # fmt: skip

        def decide(current: UserState | None) -> Sequence[Event]:
            return domain.update_user(org, current, changes)

        payload = body.model_dump(mode="json", exclude_unset=True)
        return await change_user(asking, user(org, user_id), payload, decide)

    @router.post("/{org}/users/{user_id}/deactivate")
    async def deactivate_user(org: UUID, user_id: UUID, asking: Asking) -> Body:
        return await change_user(asking, user(org, user_id), "deactivate",
                                 lambda current: domain.deactivate_user(org, current))  # fmt: skip

    @router.post("/{org}/users/{user_id}/reactivate")
    async def reactivate_user(org: UUID, user_id: UUID, asking: Asking) -> Body:
        return await change_user(asking, user(org, user_id), "reactivate",
                                 lambda current: domain.reactivate_user(org, current))  # fmt: skip

    @router.post("/{org}/users/{user_id}/legal-hold")
    async def place_legal_hold(
        org: UUID, user_id: UUID, body: LegalHoldInput, asking: Asking
    ) -> Body:
        """Keep the person from erasure, with a reason (admins). Each placing and release is a
        `UserUpdated` in the person's stream, with who and when."""
        by, at = asking.principal.user_id, datetime.now(UTC)
        return await change_user(
            asking, user(org, user_id), ["legal_hold", body.reason],
            lambda current: domain.place_legal_hold(org, current, body.reason, by, at),
        )  # fmt: skip

    @router.delete("/{org}/users/{user_id}/legal-hold")
    async def release_legal_hold(org: UUID, user_id: UUID, asking: Asking) -> Body:
        """Release the person's legal hold (admins)."""
        return await change_user(
            asking, user(org, user_id), "release legal hold",
            lambda current: domain.release_legal_hold(org, current, asking.principal.user_id),
        )  # fmt: skip

    @router.post("/{org}/users/sync", openapi_extra=SYNC_BODY)
    async def sync(org: UUID, request: Request, principal: CurrentPrincipal) -> Body:
        """Upsert users by email from CSV (`text/csv`) or JSON (`{"users": [...]}`). Every row
        is validated first; valid rows are written, rejected rows are reported and not written."""
        require_admin(principal, org)
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        try:
            upload = parse_rows(await request.body(), content_type)
        except ValueError as exc:
            raise ProblemError(
                422, "Request is not valid", str(exc), errors=[FieldError("body", str(exc))]
            ) from exc
        command = unkeyed_command(request, principal, org)
        return (await directory.sync_users(command, upload)).as_dict()

    return router
