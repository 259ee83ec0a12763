"""Routes that move a credential through its lifecycle: revoke (final), suspend, reinstate.
Admins only; each is one command run through the credential routes' `change`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request

from credflow_common.auth import CurrentPrincipal, Principal
from credflow_submission import domain
from credflow_submission.domain import Reinstate, Revoke, Suspend
from credflow_submission.inputs import IdempotencyKey, ReasonInput, ReinstateInput, SuspendInput
from credflow_submission.service import Conn

Body = dict[str, Any]
Change = Callable[..., Awaitable[Body]]
"""`change` of `api.build_router`: loads the credential, checks the caller, decides, stores."""


def add_lifecycle_routes(router: APIRouter, change: Change) -> None:
    async def lifecycle(
        request: Request,
        principal: Principal,
        org: UUID,
        credential_id: UUID,
        key: str | None,
        payload: Any,
        command: domain.Command,
    ) -> Body:
        async def command_for(conn: Conn, state: domain.Credential) -> domain.Command:
            return command

        return await change(
            request, principal, org, credential_id, key, None, payload, command_for, admin_only=True
        )

    @router.post("/{credential_id}/revoke")
    async def revoke(
        org: UUID,
        credential_id: UUID,
        body: ReasonInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        """Revoke (final). Admins only; the reason is kept."""
        return await lifecycle(
            request,
            principal,
            org,
            credential_id,
            idempotency_key,
            ["revoke", body.reason],
            Revoke(body.reason, principal.user_id),
        )

    @router.post("/{credential_id}/suspend")
    async def suspend(
        org: UUID,
        credential_id: UUID,
        body: SuspendInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        """Suspend until reinstated. Admins only; the reason is kept."""
        return await lifecycle(
            request,
            principal,
            org,
            credential_id,
            idempotency_key,
            ["suspend", body.model_dump(mode="json")],
            Suspend(body.reason, principal.user_id, body.until),
        )

    @router.post("/{credential_id}/reinstate")
    async def reinstate(
        org: UUID,
        credential_id: UUID,
        body: ReinstateInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        """Lift a suspension. Admins only."""
        return await lifecycle(
            request,
            principal,
            org,
            credential_id,
            idempotency_key,
            ["reinstate", body.note],
            Reinstate(principal.user_id, body.note),
        )
