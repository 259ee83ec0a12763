"""A client viewer follows both paths of the iPRO article: My network → Workers → Worker
credentials (filters, paging, a credential's file and details), and All companies → a company
→ its workers → a worker's profile, with every status a contractor's credentials can have,
`required` rows and compliance. Nothing offers a write, and a forged form post is refused."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.console.conftest import ConsoleWorld
from tests.e2e.console.test_worker_and_reviewer import png

pytestmark = pytest.mark.e2e


async def carl_holds_every_status(world: ConsoleWorld) -> None:
    """Expired and submitted (types without review), verified and not accepted (decided by the
    admin, who reviews for people without a manager), and the licence every worker needs
    missing (required)."""
    tenant, people = world.tenant, world.people
    carl, admin = people.carl, people.admin

    async def add(type_name: str, **fields: Any) -> dict[str, Any]:
        body = {"credential_type_id": people.types[type_name], "holder_id": carl.user_id,
                **fields}  # fmt: skip
        added: dict[str, Any] = await tenant.accepted(
            "POST", "submission", "/credentials", admin, data={"data": json.dumps(body)},
            files=[("files", ("pass.png", png(), "image/png"))],
        )  # fmt: skip
        return added

    await add("site_pass", issued_on="2024-01-10", expires_on="2025-01-10")
    await add("white_card", issued_on="2026-02-01")
    verified = await add("external", title="Rigging (TAFE)", issued_on="2026-03-01")
    refused = await add("external", title="Dogging (TAFE)", issued_on="2026-03-02")
    for added, decision, body in ((verified, "validate", {}),
                                  (refused, "reject", {"comment": "Unreadable scan"})):  # fmt: skip
        wanted = added["credential_id"]

        def listed(queue: dict[str, Any], wanted: str = wanted) -> bool:
            return any(i["credential_id"] == wanted for i in queue["items"])

        items = await tenant.view_when("/review-queue", admin, listed)
        item = next(i for i in items["items"] if i["credential_id"] == added["credential_id"])
        await tenant.call("POST", "review", f"/reviews/{item['review_id']}/{decision}", admin,
                          json=body)  # fmt: skip


async def downloaded(page: Any, saved: Path) -> list[str]:
    """The lines of the CSV the page's "Download CSV" link gives."""
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download CSV").click()
    await (await download_info.value).save_as(saved)
    return (await asyncio.to_thread(saved.read_text)).splitlines()


async def test_a_client_viewer_walks_both_paths_and_changes_nothing(
    world: ConsoleWorld, browse: Any, tmp_path: Path
) -> None:
    await carl_holds_every_status(world)
    casey = await browse("casey")
    await casey.sign_in_as(world.people.casey, landing=r"/network/workers$")
    page = casey.page
    await expect(page.get_by_role("heading", level=1)).to_have_text("Workers")  # My network
    assert await page.get_by_role("link", name="My credentials").count() == 0
    await casey.shot("my-network")
    await page.get_by_label("Name or email").fill("Carl Contractor")
    await page.get_by_role("button", name="Filter").click()
    workers = await downloaded(page, tmp_path / "workers.csv")
    assert workers[0].startswith("user_id,name,email,company_name,compliant")
    assert len(workers) == 2, workers
    assert f"{world.people.carl.user_id},Carl Contractor," in workers[1]
    assert ",False," in workers[1], "Carl is not compliant"

    # Path 1: My network → Workers → Worker credentials, filtered.
    await page.get_by_role("link", name="Worker credentials").click()
    await page.get_by_label("Company").select_option(label="Southbank")
    await page.get_by_role("button", name="Filter").click()
    rows = page.locator("#rows tr", has_text="Carl Contractor")
    await expect(rows).to_have_count(4, timeout=20_000)
    for status in ("Expired", "Submitted", "Verified", "Not accepted"):
        await expect(page.locator("#rows")).to_contain_text(status)
    await casey.shot("worker-credentials")
    await page.get_by_label("Expired").check()
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("#rows tr")).to_have_count(1)
    await expect(page.locator("#rows")).to_contain_text("Site pass")
    lines = await downloaded(page, tmp_path / "credentials.csv")
    assert lines[0].startswith("credential_id,holder_name")
    assert len(lines) == 2, lines
    assert "Site pass" in lines[1]
    assert ",expired," in lines[1]
    await page.get_by_role("link", name="Site pass").click()
    await expect(page.locator(".heading .status")).to_have_text("Expired")
    await expect(page.locator(".files img")).to_be_visible()
    assert await page.get_by_role("link", name="Add version").count() == 0
    assert await page.get_by_role("button", name="Delete").count() == 0
    await casey.shot("credential")

    # Path 2: All companies → Southbank → its workers → Carl's profile.
    await page.get_by_role("link", name="Companies").click()
    await expect(page.locator("tbody tr", has_text="Southbank")).to_contain_text("1")
    companies = await downloaded(page, tmp_path / "companies.csv")
    southbank = next(line for line in companies if ",Southbank," in line)
    assert southbank.endswith(",False,1,0,1"), "archived, workers, compliant, not compliant"
    await page.get_by_role("link", name="Southbank").click()
    await page.get_by_label("Workers").select_option(label="Not compliant")
    await page.get_by_role("button", name="Filter").click()
    card = page.locator(".cards li", has_text="Carl Contractor")
    await expect(card).to_contain_text("Not compliant")
    await expect(card).to_contain_text("Required")
    await casey.shot("company")
    await card.get_by_role("link", name="Carl Contractor").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Carl Contractor's credentials")
    for status in ("Expired", "Submitted", "Verified", "Not accepted", "Required"):
        await expect(page.locator("#credentials")).to_contain_text(status)
    await expect(page.locator("#credentials")).to_contain_text("Reason: Unreadable scan")
    assert await page.get_by_role("link", name=re.compile("Add")).count() == 0
    await casey.shot("worker-profile")

    # A form forged with Casey's own session and CSRF token is still refused.
    csrf = await page.locator("#main input[name=csrf_token], header input[name=csrf_token]"
                              ).first.get_attribute("value")  # fmt: skip
    answer = await casey.context.request.post(
        world.url + "/credentials/new",
        multipart={
            "csrf_token": csrf or "",
            "holder_id": world.people.carl.user_id,
            "credential_type_id": world.people.types["white_card"],
            "issued_on": "01/01/2026",
        },
    )
    assert answer.status == 403
    assert "admins manage credentials" in await answer.text()


async def test_the_dashboards_figures_are_the_lists_counts(
    world: ConsoleWorld, browse: Any
) -> None:
    tenant, casey_person = world.tenant, world.people.casey
    casey = await browse("casey-dashboard")
    await casey.sign_in_as(casey_person, landing=r"/network/workers$")
    await casey.page.get_by_role("link", name="Dashboard").click()
    page = casey.page
    await expect(page.locator("#status-chart")).to_be_visible()
    await casey.shot("dashboard")
    shown: dict[str, int] = {}
    for cell in await page.locator("[data-status-count]").all():
        status = await cell.get_attribute("data-status-count")
        assert status
        shown[status] = int(await cell.inner_text())
    counted = {
        status: len((await tenant.view("/credentials", casey_person, status=status,
                                       limit=500))["items"])
        for status in shown
    }  # fmt: skip
    assert shown == counted
    assert sum(counted.values()) == int(await page.locator("#total").inner_text())
    expiring = len((await tenant.view("/credentials", casey_person, expiring_within_days=30,
                                      limit=500))["items"])  # fmt: skip
    assert int(await page.locator("#expiring-30").inner_text()) == expiring
    await page.locator("#status-chart a[aria-label^='Expired'] text.label").click()
    await expect(page.locator("#rows tr")).to_have_count(max(counted["expired"], 1))
    await expect(page.get_by_label("Expired")).to_be_checked()
