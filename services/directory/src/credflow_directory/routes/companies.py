"""Companies (contractors) and groups of people."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from credflow_common.auth import CurrentPrincipal
from credflow_common.requests import Asking, Body
from credflow_contracts.events.directory import CompanyState, GroupState, UserState
from credflow_contracts.ids import uuid7
from credflow_directory import domain
from credflow_directory.access import managed_by, people_of, require_admin
from credflow_directory.inputs import (
    CompanyInput,
    CompanyPatch,
    GroupInput,
    GroupPatch,
    fields_sent,
)
from credflow_directory.service import Directory, Entity


def build(directory: Directory) -> APIRouter:
    router = APIRouter(prefix="/organisations", tags=["directory"])

    @router.post("/{org}/companies", status_code=201)
    async def create_company(org: UUID, body: CompanyInput, asking: Asking) -> Body:
        require_admin(asking.principal, org)
        new = CompanyState(company_id=uuid7(), name=body.name)
        return await directory.change(
            asking.command(org, body.model_dump(mode="json")),
            Entity(org, "company", new.company_id, CompanyState),
            lambda current: domain.create_company(org, current, new),
        )

    @router.get("/{org}/companies")
    async def list_companies(org: UUID, principal: CurrentPrincipal) -> Body:
        principal.require_organisation(org)
        return {"items": await directory.many(org, "company", CompanyState)}

    @router.get("/{org}/companies/{company_id}")
    async def get_company(org: UUID, company_id: UUID, principal: CurrentPrincipal) -> Body:
        """A company and the workers who belong to it."""
        mine, mine_params = people_of(managed_by(principal, org))
        company = await directory.one(Entity(org, "company", company_id, CompanyState))
        workers = await directory.many(
            org, "user", UserState,
            where=" AND ".join(["state->>'company_id' = %s", *([mine] if mine else [])]),
            params=[str(company_id), *mine_params],
        )  # fmt: skip
        return {**company, "workers": workers}

    @router.patch("/{org}/companies/{company_id}")
    async def update_company(
        org: UUID, company_id: UUID, body: CompanyPatch, asking: Asking
    ) -> Body:
        require_admin(asking.principal, org)
        changes = fields_sent(body)
        return await directory.change(
            asking.command(org, changes),
            Entity(org, "company", company_id, CompanyState),
            lambda current: domain.update_company(org, current, changes),
        )

    @router.post("/{org}/groups", status_code=201)
    async def create_group(org: UUID, body: GroupInput, asking: Asking) -> Body:
        require_admin(asking.principal, org)
        new = GroupState(group_id=uuid7(), name=body.name, admin_ids=body.admin_ids)
        return await directory.change(
            asking.command(org, body.model_dump(mode="json")),
            Entity(org, "group", new.group_id, GroupState),
            lambda current: domain.create_group(org, current, new),
            directory.group_references(org),
        )

    @router.get("/{org}/groups")
    async def list_groups(org: UUID, principal: CurrentPrincipal) -> Body:
        principal.require_organisation(org)
        return {"items": await directory.many(org, "group", GroupState)}

    @router.patch("/{org}/groups/{group_id}")
    async def update_group(org: UUID, group_id: UUID, body: GroupPatch, asking: Asking) -> Body:
        require_admin(asking.principal, org)
        changes = fields_sent(body)
        return await directory.change(
            asking.command(org, changes),
            Entity(org, "group", group_id, GroupState),
            lambda current: domain.update_group(org, current, changes),
            directory.group_references(org),
        )

    return router
