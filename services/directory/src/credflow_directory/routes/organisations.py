"""Organisations and their settings."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from credflow_common.auth import CurrentPrincipal
from credflow_common.problems import ProblemError
from credflow_common.requests import Asking, Body
from credflow_contracts.events.directory import OrganisationCreated
from credflow_contracts.ids import uuid7
from credflow_directory import domain
from credflow_directory.access import require_admin
from credflow_directory.inputs import (
    OrganisationInput,
    SettingsInput,
    default_settings,
    settings_changes,
)
from credflow_directory.service import Directory, Entity


def build(directory: Directory) -> APIRouter:
    router = APIRouter(prefix="/organisations", tags=["directory"])

    @router.post("", status_code=201)
    async def create_organisation(body: OrganisationInput, asking: Asking) -> Body:
        """Create an organisation with its first admin. Platform operators only."""
        if not asking.principal.is_platform_operator:
            raise ProblemError(403, "Forbidden", "creating organisations is for platform operators")
        org = body.organisation_id or uuid7()
        command = asking.command(org, body.model_dump(mode="json"))
        return await directory.create_organisation(command, body)

    @router.get("/{org}")
    async def get_organisation(org: UUID, principal: CurrentPrincipal) -> Body:
        principal.require_organisation(org)
        return await directory.one(Entity(org, "organisation", org, OrganisationCreated))

    @router.patch("/{org}/settings")
    async def change_settings(org: UUID, body: SettingsInput, asking: Asking) -> Body:
        require_admin(asking.principal, org)
        changes = settings_changes(body)
        actor = asking.principal.user_id
        return await directory.change(
            asking.command(org, changes),
            Entity(org, "organisation", org, OrganisationCreated),
            lambda current: domain.change_settings(
                org,
                current.settings if current else default_settings(SettingsInput()),
                changes,
                actor,
            ),
            directory.reviewer_group(org, body.reviewer_group_id),
        )

    return router
