"""An organisation with every status present, built through the public HTTP APIs.

Companies North (Wes, Ann) and South (Sam); Mia manages all three; a client viewer and a
reviewer-less admin. Types: Licence (reviewed, expires), Induction (no review, no expiry),
Forklift (reviewed). Induction is required of every worker, Licence of North's workers.

| worker | credential | status |
|---|---|---|
| Wes (North) | Licence, expires in 10 days, validated; renewed? no | verified, expiring soon |
| Wes | Induction | submitted |
| Ann (North) | Licence, expired last year, validated | expired |
| Ann | Induction, revoked | revoked |
| Ann | Forklift, waiting for Mia | pending |
| Sam (South) | Licence, rejected | not_accepted |
| Sam | Forklift, accepted then suspended | suspended |
| Sam | (no Induction) | required |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from credflow_common.positions import wait_until_applied
from credflow_projection.projector import CONSUMER
from tests.integration.directory.conftest import Org
from tests.integration.projection.conftest import Stack
from tests.integration.review.conftest import as_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class World:
    org: Org
    people: dict[str, dict[str, Any]]
    companies: dict[str, str]
    types: dict[str, str]
    credentials: dict[str, str]  # "wes.licence" → credential id
    today: date
    positions: list[str]

    def as_(self, name: str) -> dict[str, str]:
        return as_user(self.org, self.people[name])


async def build_world(stack: Stack, unique: str) -> World:
    services = stack.services
    org = await services.org(f"Views {unique}")
    today = datetime.now(UTC).date()
    companies = {
        name: str((await services.post(org, "/companies", name=name))["company_id"])
        for name in ("North", "South")
    }
    types = {
        "licence": str(
            (
                await services.post(
                    org,
                    "/credential-types",
                    name="Licence",
                    validation_required=True,
                    default_validity_months=60,
                )
            )["credential_type_id"]
        ),
        "induction": str(
            (
                await services.post(
                    org,
                    "/credential-types",
                    name="Induction",
                    expires=False,
                    validation_required=False,
                )
            )["credential_type_id"]
        ),
        "forklift": str(
            (
                await services.post(
                    org,
                    "/credential-types",
                    name="Forklift",
                    validation_required=True,
                    default_validity_months=36,
                )
            )["credential_type_id"]
        ),
    }
    await services.post(
        org, "/requirements", credential_type_id=types["induction"], scope="all_workers"
    )
    await services.post(
        org,
        "/requirements",
        credential_type_id=types["licence"],
        scope="company",
        company_id=companies["North"],
    )
    domain = org.admin_email.split("@")[1]

    async def person(name: str, **fields: Any) -> dict[str, Any]:
        return await services.post(
            org,
            "/users",
            email=f"{name.lower()}@{domain}",
            name=fields.pop("display", name),
            **fields,
        )

    people = {"mia": await person("Mia", roles=["manager"])}
    people["viewer"] = await person("Vic", roles=["client_viewer"])
    for name, company in (("wes", "North"), ("ann", "North"), ("sam", "South")):
        people[name] = await person(
            name.title(),
            display="=HYPERLINK(1)" if name == "sam" else name.title(),
            manager_id=people["mia"]["user_id"],
            company_id=companies[company],
        )
    people["admin"] = {"user_id": str(org.admin_id), "roles": ["admin"]}
    world = World(org, people, companies, types, {}, today, [])

    async def submit(key: str, holder: str, type_name: str, **fields: Any) -> dict[str, Any]:
        body = {"credential_type_id": types[type_name], "issued_on": str(today), **fields}
        response = await services.submission.post(
            f"/organisations/{org.id}/credentials", json=body, headers=world.as_(holder)
        )
        assert response.status_code == 201, response.text
        world.credentials[key] = response.json()["credential_id"]
        world.positions.append(response.json()["position"])
        return dict(response.json())

    async def decide(key: str, verdict: str, **body: Any) -> None:
        item = await services.item_for(org, world.as_("mia"), world.credentials[key])
        url = f"/organisations/{org.id}/reviews/{item['review_id']}/{verdict}"
        response = await services.review.post(url, json=body, headers=world.as_("mia"))
        assert response.status_code == 200, response.text
        world.positions.append(response.json()["position"])

    async def act(key: str, action: str, **body: Any) -> None:
        url = f"/organisations/{org.id}/credentials/{world.credentials[key]}/{action}"
        response = await services.submission.post(url, json=body, headers=org.admin)
        assert response.status_code == 200, response.text
        world.positions.append(response.json()["position"])

    await submit(
        "wes.licence",
        "wes",
        "licence",
        expires_on=str(today + timedelta(days=10)),
        certification={"number": "LIC-WES-1"},
        issuer={"name": "Roads Authority"},
    )
    await decide("wes.licence", "validate", comment="Checked the registry.")
    await submit("wes.induction", "wes", "induction")
    await submit(
        "ann.licence",
        "ann",
        "licence",
        issued_on=str(today - timedelta(days=800)),
        expires_on=str(today - timedelta(days=400)),
    )
    await decide("ann.licence", "validate")
    await submit("ann.induction", "ann", "induction")
    await act("ann.induction", "revoke", reason="Forged signature")
    await submit("ann.forklift", "ann", "forklift")
    await submit("sam.licence", "sam", "licence", certification={"number": "LIC-SAM-9"})
    await decide("sam.licence", "reject", comment="The photo is unreadable.")
    await submit("sam.forklift", "sam", "forklift")
    await decide("sam.forklift", "validate")
    await act("sam.forklift", "suspend", reason="Under investigation")
    media = await services.submission.post(
        f"/organisations/{org.id}/credentials/{world.credentials['wes.licence']}/media",
        files={"file": ("licence.png", PNG)},
        headers=world.as_("wes"),
    )
    assert media.status_code == 201, media.text
    world.positions.append(media.json()["position"])
    for position in world.positions:
        assert await wait_until_applied(stack.views_context.pool, CONSUMER, UUID(position), 60)
    return world
