"""Requirements: which credential types whom an organisation expects to hold."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from credflow_common.auth import CurrentPrincipal
from credflow_common.requests import Asking, Body
from credflow_contracts.events.directory import RequirementState
from credflow_contracts.ids import uuid7
from credflow_directory import domain
from credflow_directory.access import require_admin
from credflow_directory.inputs import RequirementInput
from credflow_directory.service import Directory, Entity


def build(directory: Directory) -> APIRouter:
    router = APIRouter(prefix="/organisations", tags=["directory"])

    @router.post("/{org}/requirements", status_code=201)
    async def add_requirement(org: UUID, body: RequirementInput, asking: Asking) -> Body:
        require_admin(asking.principal, org)
        new = RequirementState(requirement_id=uuid7(), **body.model_dump())
        return await directory.add_requirement(
            asking.command(org, body.model_dump(mode="json")), new
        )

    @router.get("/{org}/requirements")
    async def list_requirements(org: UUID, principal: CurrentPrincipal) -> Body:
        principal.require_organisation(org)
        return {"items": await directory.many(org, "requirement", RequirementState)}

    @router.delete("/{org}/requirements/{requirement_id}")
    async def remove_requirement(org: UUID, requirement_id: UUID, asking: Asking) -> Body:
        require_admin(asking.principal, org)
        return await directory.change(
            asking.command(org, "remove"),
            Entity(org, "requirement", requirement_id, RequirementState),
            lambda current: domain.remove_requirement(org, current),
        )

    return router
