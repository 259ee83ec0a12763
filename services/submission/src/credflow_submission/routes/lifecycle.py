"""A credential through its lifecycle: revoke (final), suspend, reinstate. Admins only."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from credflow_common.requests import Asking, Body, Command
from credflow_submission import domain
from credflow_submission.domain import Reinstate, Revoke, Suspend
from credflow_submission.inputs import ReasonInput, ReinstateInput, SuspendInput
from credflow_submission.service import Change, Credentials
from credflow_submission.store import Conn


def build(credentials: Credentials) -> APIRouter:
    router = APIRouter(prefix="/organisations/{org}/credentials", tags=["credentials"])

    async def lifecycle(command: Command, credential_id: UUID, decided: domain.Command) -> Body:
        async def command_for(conn: Conn, state: domain.Credential) -> domain.Command:
            return decided

        change = Change(credential_id, admin_only=True)
        return await credentials.change(command, change, command_for)

    @router.post("/{credential_id}/revoke")
    async def revoke(org: UUID, credential_id: UUID, body: ReasonInput, asking: Asking) -> Body:
        """Revoke (final). Admins only; the reason is kept."""
        command = asking.command(org, ["revoke", body.reason])
        return await lifecycle(command, credential_id, Revoke(body.reason, command.actor_id))

    @router.post("/{credential_id}/suspend")
    async def suspend(org: UUID, credential_id: UUID, body: SuspendInput, asking: Asking) -> Body:
        """Suspend until reinstated. Admins only; the reason is kept."""
        command = asking.command(org, ["suspend", body.model_dump(mode="json")])
        suspension = Suspend(body.reason, command.actor_id, body.until)
        return await lifecycle(command, credential_id, suspension)

    @router.post("/{credential_id}/reinstate")
    async def reinstate(
        org: UUID, credential_id: UUID, body: ReinstateInput, asking: Asking
    ) -> Body:
        """Lift a suspension. Admins only."""
        command = asking.command(org, ["reinstate", body.note])
        return await lifecycle(command, credential_id, Reinstate(command.actor_id, body.note))

    return router
