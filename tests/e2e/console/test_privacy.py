"""A person's privacy in the console, as an admin holding privacy:erase uses it: a legal hold
placed with a reason keeps the person from erasure until it is released; erasing asks for the
person's name, then shows the erasure's steps and its receipt; the person then shows as
"Erased person"."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.console.conftest import ConsoleWorld
from tests.polling import eventually

pytestmark = pytest.mark.e2e


async def test_an_admin_holds_then_erases_a_person_with_a_typed_confirmation(
    world: ConsoleWorld, browse: Any
) -> None:
    tenant = world.tenant
    eve = await tenant.person("Eve Eraser", ["admin"], permissions=["privacy:erase"])
    pat = await tenant.person("Pat Private", ["worker"])
    visitor = await browse("eve-privacy")
    await visitor.sign_in_as(eve)
    page = visitor.page
    await page.goto(world.url + f"/admin/users/{pat.user_id}")
    await expect(page.get_by_role("heading", name="Privacy")).to_be_visible()

    await page.get_by_label("Reason for a legal hold").fill("Fair Work claim 2026-114")
    await page.get_by_role("button", name="Place a legal hold").click()
    await expect(page.locator("#notice")).to_have_text("Legal hold placed.")
    await expect(page.locator("#legal-hold")).to_contain_text("Fair Work claim 2026-114")
    await expect(page.get_by_role("button", name=re.compile("^Erase"))).to_have_count(0)
    await visitor.shot("held")
    await page.get_by_role("button", name="Release the legal hold").click()
    await expect(page.locator("#notice")).to_have_text("Legal hold released.")

    confirm = page.get_by_label(re.compile("^Type the person's name"))
    await confirm.fill("Pat")
    await page.get_by_role("button", name="Erase Pat Private").click()
    await expect(page.locator(".field.invalid")).to_contain_text("exactly as it is shown")
    await visitor.shot("confirmation-refused")
    await page.get_by_label(re.compile("^Type the person's name")).fill("Pat Private")
    await page.get_by_role("button", name="Erase Pat Private").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Erasure of a person")
    await expect(page.locator("#erasure-status")).to_contain_text("Done", timeout=30_000)
    await expect(page.locator(".erasure-steps li")).to_have_count(4)
    await expect(page.get_by_role("heading", name="Receipt")).to_be_visible()
    await expect(page.locator(".erasure-services li")).to_have_count(4)
    await expect(page.locator(".erasure-services")).not_to_contain_text("waiting")
    await expect(page.locator("#erasure")).to_contain_text("Deleted by submission")
    await visitor.shot("receipt")

    await page.goto(world.url + f"/admin/users/{pat.user_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Erased person")
    await expect(page.get_by_role("button", name=re.compile("^Erase"))).to_have_count(0)

    async def forgotten_by_the_views() -> bool:
        await page.goto(world.url + f"/credentials?worker={pat.user_id}")
        heading = await page.get_by_role("heading", level=1).inner_text()
        main = await page.locator("main").inner_text()
        return "Erased person" in heading and "Pat Private" not in main

    await eventually(forgotten_by_the_views, timeout_s=30)


async def test_erasing_needs_privacy_erase(world: ConsoleWorld, browse: Any) -> None:
    """Ada is an admin without privacy:erase: no Erase form, and a forged post is refused."""
    ada = await browse("ada-no-erase")
    await ada.sign_in_as(world.people.admin)
    await ada.page.goto(world.url + f"/admin/users/{world.people.will.user_id}")
    await expect(ada.page.get_by_role("heading", name="Privacy")).to_be_visible()
    await expect(ada.page.get_by_role("button", name=re.compile("^Erase"))).to_have_count(0)
    csrf = await ada.page.locator("input[name=csrf_token]").first.input_value()
    refused = await ada.page.request.post(
        world.url + f"/admin/users/{world.people.will.user_id}/erase",
        form={"csrf_token": csrf, "confirm": "Will Worker"},
    )
    assert refused.status == 403
