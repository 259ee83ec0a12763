"""Erasing a person (ADR 0017), for admins holding `privacy:erase`: ask for it (202, the same
erasure when asked again) and follow it to its receipt."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from credflow_common.auth import CurrentPrincipal
from credflow_common.requests import Body
from credflow_directory.erasures import Erasures


def build(erasures: Erasures) -> APIRouter:
    router = APIRouter(prefix="/organisations", tags=["personal data"])

    @router.post("/{org}/users/{user_id}/erasure", status_code=202)
    async def erase(org: UUID, user_id: UUID, principal: CurrentPrincipal,
                    response: Response) -> Body:  # fmt: skip
        """Erase the person: they are deactivated, their data key destroyed, their name and
        email replaced everywhere, and `PersonErased` published. Refused for a person under
        legal hold and for the organisation's last active admin (409)."""
        body, _ = await erasures.request(principal, org, user_id)
        response.headers["Location"] = f"/organisations/{org}/erasures/{body['erasure_id']}"
        return body

    @router.get("/{org}/erasures/{erasure_id}")
    async def erasure(org: UUID, erasure_id: UUID, principal: CurrentPrincipal) -> Body:
        """The erasure's steps so far and, once it is done, its receipt."""
        return await erasures.get(principal, org, erasure_id)

    return router
