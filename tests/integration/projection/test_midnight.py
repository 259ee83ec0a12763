"""A credential stays valid through its expiry date and is expired from the next midnight in
the organisation's time zone: its status, its holder's compliance (the worker list, the
profile, the company counts) all turn then, with no event applied in between."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.bench.scale import applied
from tests.integration.projection.conftest import Stack
from tests.integration.review.conftest import as_user

pytestmark = pytest.mark.integration
ZONE = ZoneInfo("Pacific/Auckland")  # 11-13 hours ahead of UTC: its midnight is not UTC's


async def test_statuses_and_compliance_turn_at_midnight_in_the_organisations_time_zone(
    stack: Stack, unique: str
) -> None:
    services = stack.services
    org = await services.org(f"Midnight {unique}")
    await services.settings(org, time_zone="Pacific/Auckland")
    company = (await services.post(org, "/companies", name="Harbour"))["company_id"]
    ticket = (await services.post(org, "/credential-types", name="Ticket",
                                  validation_required=False, default_validity_months=12)
              )["credential_type_id"]  # fmt: skip
    await services.post(org, "/requirements", credential_type_id=ticket, scope="all_workers")
    domain = org.admin_email.split("@")[1]
    nia = await services.post(org, "/users", email=f"nia@{domain}", name="Nia Night",
                              roles=["worker"], company_id=company)  # fmt: skip
    expires = datetime.now(ZONE).date() + timedelta(days=5)
    submitted = await services.submission.post(
        f"/organisations/{org.id}/credentials",
        json={"credential_type_id": ticket, "issued_on": str(expires - timedelta(days=300)),
              "expires_on": str(expires)},
        headers=as_user(org, nia),
    )  # fmt: skip
    assert submitted.status_code == 201, submitted.text
    await stack.get(org, f"/credentials/{submitted.json()['credential_id']}", org.admin,
                    min_position=submitted.json()["position"])  # fmt: skip

    async def seen_at(moment: datetime) -> dict[str, Any]:
        stack.clock.offset = moment - datetime.now(UTC)
        credential = (await stack.get(org, "/credentials", org.admin))["items"][0]
        worker = (await stack.get(org, "/workers", org.admin))["items"][0]
        profile = await stack.get(org, f"/workers/{nia['user_id']}", org.admin)
        harbour = (await stack.get(org, "/companies", org.admin))["items"][0]
        expired = await stack.get(org, "/credentials", org.admin, status="expired")
        return {
            "status": credential["status"], "listed compliant": worker["compliant"],
            "profile compliant": profile["compliant"],
            "company": (harbour["compliant"], harbour["not_compliant"]),
            "in the expired list": len(expired["items"]),
        }  # fmt: skip

    # The submission's follow-up events (its acceptance) land after it: start once the
    # views have applied nothing new for a second.
    seen = [await applied(stack.infra.database_url)]
    while (len(seen) < 10 or seen[-1] != seen[-10]) and len(seen) < 600:
        await asyncio.sleep(0.1)
        seen.append(await applied(stack.infra.database_url))
    events = seen[-1]
    last_minute = datetime.combine(expires, time(23, 59, 30), ZONE)
    assert await seen_at(last_minute) == {
        "status": "submitted", "listed compliant": True, "profile compliant": True,
        "company": (1, 0), "in the expired list": 0,
    }  # fmt: skip
    first_minute = datetime.combine(expires + timedelta(days=1), time(0, 0, 30), ZONE)
    assert first_minute.astimezone(UTC).date() == expires, "UTC is still on the expiry date"
    assert await seen_at(first_minute) == {
        "status": "expired", "listed compliant": False, "profile compliant": False,
        "company": (0, 1), "in the expired list": 1,
    }  # fmt: skip
    assert await applied(stack.infra.database_url) == events, "no event was applied in between"
