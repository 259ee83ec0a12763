"""The views' service layer: whose data the caller sees (the shared access rules, with the
people a manager manages from the views), the wait for a write's position, and workers'
profiles."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import Response

from credflow_common import access_rules
from credflow_common.auth import Principal
from credflow_common.positions import wait_until_applied
from credflow_common.problems import ProblemError
from credflow_common.service import ServiceContext
from credflow_projection import queries, workforce
from credflow_projection.projector import CONSUMER
from credflow_projection.queries import Conn, Scope

Body = dict[str, Any]
Clock = Callable[[], datetime]


class Views:
    def __init__(self, context: ServiceContext, clock: Clock) -> None:
        self.pool = context.pool
        self.clock = clock
        self.wait_s = context.runtime.min_position_wait_s

    async def caught_up(self, response: Response, position: UUID | None) -> None:
        """Wait (bounded) until the views include `position`; say whether they do."""
        if position is None:
            return
        reached = await wait_until_applied(self.pool, CONSUMER, position, self.wait_s)
        response.headers["Projection-Caught-Up"] = "true" if reached else "false"


async def viewing(
    conn: Conn, principal: Principal, org: UUID
) -> tuple[queries.Organisation, Scope]:
    """The organisation being viewed, and whose credentials the caller may see in it."""
    return await queries.organisation(conn, org), await scope_of(conn, principal)


async def scope_of(conn: Conn, principal: Principal) -> Scope:
    if access_rules.sees_everyone(principal):
        return Scope(everyone=True)
    holders = {principal.user_id}
    if principal.has_role("manager"):
        holders.update(await workforce.managees(conn, principal.organisation_id, principal.user_id))
    return Scope(everyone=False, holder_ids=frozenset(holders))


def require_views_of_others(principal: Principal) -> None:
    if not access_rules.sees_others(principal):
        raise ProblemError(403, "Forbidden", "workers see their own profile and credentials")


async def profiles(
    conn: Conn, organisation: queries.Organisation, workers: list[Body], now: datetime
) -> list[Body]:
    """Each worker with their credentials, `required` rows, and compliance."""
    today = organisation.today(now)
    ids = [w["user_id"] for w in workers]  # already limited to the caller's scope
    states = await workforce.compliance(conn, organisation, ids, today)
    held = await queries.credentials_by_holder(conn, organisation, ids, today)
    profiles = []
    for worker in workers:
        state = states[worker["user_id"]]
        required_rows = [
            {
                "credential_id": None,
                "credential_type_id": r["credential_type_id"],
                "credential_type_name": r["credential_type_name"],
                "status": "required",
                "expiring_soon": False,
            }
            for r in state.requirements
            if r["state"] == "required"
        ]
        profiles.append(
            {
                **worker,
                "compliant": state.compliant,
                "requirements": state.requirements,
                "credentials": held[worker["user_id"]] + required_rows,
            }
        )
    return profiles
