"""Credential types: what can be held, how long it lasts, what it needs."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from credflow_common.auth import CurrentPrincipal
from credflow_common.requests import Asking, Body
from credflow_contracts.events.directory import CredentialTypeState
from credflow_contracts.ids import uuid7
from credflow_directory import domain
from credflow_directory.access import require_admin
from credflow_directory.inputs import CredentialTypeInput, CredentialTypePatch
from credflow_directory.service import Directory, Entity


def build(directory: Directory) -> APIRouter:
    router = APIRouter(prefix="/organisations", tags=["directory"])

    def credential_type(org: UUID, type_id: UUID) -> Entity[CredentialTypeState]:
        return Entity(org, "credential_type", type_id, CredentialTypeState)

    @router.post("/{org}/credential-types", status_code=201)
    async def create_credential_type(org: UUID, body: CredentialTypeInput, asking: Asking) -> Body:
        require_admin(asking.principal, org)
        new = CredentialTypeState(credential_type_id=uuid7(), **body.model_dump())
        return await directory.change(
            asking.command(org, body.model_dump(mode="json")),
            credential_type(org, new.credential_type_id),
            lambda current: domain.create_credential_type(org, current, new),
            directory.credential_type_references(org),
        )

    @router.get("/{org}/credential-types")
    async def list_credential_types(
        org: UUID, principal: CurrentPrincipal, include_archived: bool = False
    ) -> Body:
        principal.require_organisation(org)
        where = "" if include_archived else "(state->>'archived')::boolean IS NOT TRUE"
        types = await directory.many(org, "credential_type", CredentialTypeState, where=where)
        return {"items": types}

    @router.get("/{org}/credential-types/{type_id}")
    async def get_credential_type(org: UUID, type_id: UUID, principal: CurrentPrincipal) -> Body:
        principal.require_organisation(org)
        return await directory.one(credential_type(org, type_id))

    @router.patch("/{org}/credential-types/{type_id}")
    async def update_credential_type(
        org: UUID, type_id: UUID, body: CredentialTypePatch, asking: Asking
    ) -> Body:
        require_admin(asking.principal, org)
        changes = body.model_dump(exclude_unset=True)
        return await directory.change(
            asking.command(org, body.model_dump(mode="json", exclude_unset=True)),
            credential_type(org, type_id),
            lambda current: domain.update_credential_type(org, current, changes),
            directory.credential_type_references(org),
        )

    @router.post("/{org}/credential-types/{type_id}/archive")
    async def archive_credential_type(org: UUID, type_id: UUID, asking: Asking) -> Body:
        require_admin(asking.principal, org)
        return await directory.change(
            asking.command(org, "archive"),
            credential_type(org, type_id),
            lambda current: domain.archive_credential_type(org, current),
        )

    return router
