"""A person's data key (ADR 0017), for the services and subscribers that seal or open their
personal fields: `GET /organisations/{org}/users/{user_id}/data-key`, only for a caller holding
`platform:personal-data`. Nobody else learns a key, or whether one exists."""

from __future__ import annotations

import base64
from uuid import UUID

from fastapi import APIRouter, Response

from credflow_common.auth import PERSONAL_DATA_PERMISSION, CurrentPrincipal
from credflow_common.problems import ProblemError
from credflow_common.requests import Body
from credflow_common.service import ServiceContext
from credflow_directory.erasures import Erasures
from credflow_directory.person_keys import PersonKeys
from credflow_directory.store import user_standing


def build(context: ServiceContext, keys: PersonKeys, erasures: Erasures) -> APIRouter:
    router = APIRouter(prefix="/organisations", tags=["personal data"])

    @router.get("/{org}/users/{user_id}/data-key")
    async def data_key(
        org: UUID, user_id: UUID, principal: CurrentPrincipal, response: Response
    ) -> Body:
        """The 256-bit AES-GCM key the person's personal fields are sealed with (base64url),
        created with its first use. Keep it in memory only, for minutes at most."""
        if PERSONAL_DATA_PERMISSION not in principal.permissions:
            raise ProblemError(
                403, "Forbidden", f"this needs the {PERSONAL_DATA_PERMISSION} permission"
            )
        response.headers["Cache-Control"] = "no-store"
        async with context.pool.connection() as conn:
            if await user_standing(conn, org, user_id) is None:
                raise ProblemError(404, "Not Found", f"no user {user_id} in this organisation")
            if await erasures.asked_for(conn, org, user_id):
                raise ProblemError(410, "Gone", "this person is erased: their data key is gone")
            key = await keys.data_key(conn, org, user_id)
        return {
            "organisation_id": str(org),
            "user_id": str(user_id),
            "algorithm": "A256GCM",
            "data_key": base64.urlsafe_b64encode(key).rstrip(b"=").decode("ascii"),
        }

    return router
