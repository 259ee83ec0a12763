"""Finding people across organisations, for sign-in: `GET /people?email=` (the organisations a
verified email belongs to), `GET /people?organisation_id=` (everyone of one organisation, for
the console's development "sign in as" page) and `GET /people?organisation_id=&user_id=` (one
person as they are now: the console checks its signed-in people's roles and status with it).
Only a caller holding `platform:people` (the console, with a token it mints for itself) may
ask; nobody else learns whether an email exists anywhere.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from credflow_common.auth import PEOPLE_PERMISSION, CurrentPrincipal
from credflow_common.problems import FieldError, ProblemError
from credflow_common.service import ServiceContext

Body = dict[str, Any]
LIMIT = 500


def build(context: ServiceContext) -> APIRouter:
    router = APIRouter(prefix="/people", tags=["sign-in"])

    @router.get("")
    async def find_people(
        principal: CurrentPrincipal,
        email: Annotated[str | None, Query(min_length=3, max_length=320)] = None,
        organisation_id: UUID | None = None,
        user_id: UUID | None = None,
    ) -> Body:
        """People by email (every organisation) or by organisation, each with their
        organisation's name, roles, permissions, status and date format."""
        if PEOPLE_PERMISSION not in principal.permissions:
            raise ProblemError(403, "Forbidden", f"this needs the {PEOPLE_PERMISSION} permission")
        if (email is None) == (organisation_id is None):
            raise ProblemError(
                422, "Unprocessable Content", "give either email or organisation_id",
                errors=[FieldError("query.email", "give either email or organisation_id")],
            )  # fmt: skip
        if user_id is not None and organisation_id is None:
            raise ProblemError(
                422, "Unprocessable Content", "user_id needs organisation_id",
                errors=[FieldError("query.user_id", "give organisation_id with user_id")],
            )  # fmt: skip
        where, values = (
            ("lower(u.state->>'email') = lower(%s)", [email])
            if email is not None
            else ("u.organisation_id = %s", [organisation_id])
        )
        if user_id is not None:
            where, values = where + " AND u.id = %s", [*values, str(user_id)]
        async with context.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT u.organisation_id, o.state->>'name',"  # noqa: S608 - `where`: a constant
                " o.state->'settings'->>'default_date_format', u.state FROM entities u"
                " JOIN entities o ON o.organisation_id = u.organisation_id"
                "  AND o.kind = 'organisation' AND o.id = u.organisation_id::text"
                f" WHERE u.kind = 'user' AND {where}"
                " ORDER BY o.state->>'name', u.state->>'name' LIMIT %s",
                (*values, LIMIT),
            )
            rows = await cursor.fetchall()
        items = [
            {
                "organisation_id": str(org),
                "organisation_name": org_name,
                "user_id": state["user_id"],
                "name": state["name"],
                "email": state["email"],
                "status": state["status"],
                "roles": state.get("roles", []),
                "permissions": state.get("permissions", []),
                "date_format": state.get("date_format") or org_date_format,
            }
            for org, org_name, org_date_format, state in rows
        ]
        return {"items": items}

    return router
