"""People's data keys (ADR 0017), for the services and subscribers that seal or open their
personal fields: one person's (`GET /organisations/{org}/users/{user_id}/data-key`) or up to a
thousand people's in one call (`POST /organisations/{org}/data-keys`, for a consumer's batch),
only for a caller holding `platform:personal-data`. Nobody else learns a key, or whether one
exists."""

from __future__ import annotations

import base64
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import Field

from credflow_common.auth import PERSONAL_DATA_PERMISSION, CurrentPrincipal, Principal
from credflow_common.inputs import Input
from credflow_common.problems import ProblemError
from credflow_common.requests import Body
from credflow_common.service import ServiceContext
from credflow_directory.erasures import Erasures
from credflow_directory.person_keys import PersonKeys, erased_among
from credflow_directory.store import people_of, user_standing

MAX_KEYS_PER_CALL = 1000


class DataKeysInput(Input):
    user_ids: list[UUID] = Field(min_length=1, max_length=MAX_KEYS_PER_CALL)


def require_personal_data(principal: Principal) -> None:
    if PERSONAL_DATA_PERMISSION not in principal.permissions:
        needed = f"this needs the {PERSONAL_DATA_PERMISSION} permission"
        raise ProblemError(403, "Forbidden", needed)


def encoded(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode("ascii")


def build(context: ServiceContext, keys: PersonKeys, erasures: Erasures) -> APIRouter:
    router = APIRouter(prefix="/organisations", tags=["personal data"])

    @router.post("/{org}/data-keys")
    async def data_keys(
        org: UUID, body: DataKeysInput, principal: CurrentPrincipal, response: Response
    ) -> Body:
        """The data keys of up to 1,000 people of the organisation (base64url), each created
        with its first use; `erased` lists the people whose key is gone, `unknown` the ids the
        organisation does not have. Keep them in memory only, for minutes at most."""
        require_personal_data(principal)
        response.headers["Cache-Control"] = "no-store"
        wanted = list(dict.fromkeys(body.user_ids))
        async with context.pool.connection() as conn, conn.transaction():
            known = await people_of(conn, org, wanted)
            erased = await erased_among(conn, org, known)
            found = await keys.data_keys(conn, org, [u for u in known if u not in erased])
        return {
            "organisation_id": str(org),
            "algorithm": "A256GCM",
            "keys": {str(user_id): encoded(key) for user_id, key in found.items()},
            "erased": sorted(str(user_id) for user_id in erased),
            "unknown": sorted(str(user_id) for user_id in wanted if user_id not in known),
        }

    @router.get("/{org}/users/{user_id}/data-key")
    async def data_key(
        org: UUID, user_id: UUID, principal: CurrentPrincipal, response: Response
    ) -> Body:
        """The 256-bit AES-GCM key the person's personal fields are sealed with (base64url),
        created with its first use. Keep it in memory only, for minutes at most."""
        require_personal_data(principal)
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
            "data_key": encoded(key),
        }

    return router
