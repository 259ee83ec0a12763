"""A manager's team: Mia adds a credential for Will, edits its latest version, removes its
file (the credential stays) and deletes it; then approves two of his items in bulk, and a
whole import of his credentials."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.console.conftest import ConsoleWorld
from tests.e2e.console.test_worker_and_reviewer import png

pytestmark = pytest.mark.e2e


async def test_a_manager_manages_a_managees_credential(
    world: ConsoleWorld, browse: Any, tmp_path: Path
) -> None:
    photo = tmp_path / "heights.png"
    photo.write_bytes(png())
    mia = await browse("mia")
    await mia.sign_in_as(world.people.mia)
    page = mia.page
    await page.get_by_role("link", name="My team").click()
    row = page.locator("tbody tr", has_text="Will Worker")
    await expect(row).to_contain_text("ompliant")
    await mia.shot("team")
    await row.get_by_role("link", name="Add a credential").click()
    await page.get_by_label("Type").select_option(label="Working at heights")
    await page.get_by_label("Issue date").fill("04/11/2026")
    await page.get_by_label("Number").fill("WH-1")
    await page.set_input_files("#f-files", str(photo))
    await page.get_by_role("button", name="Add credential").click()
    await expect(page.locator("#version-1")).to_contain_text("WH-1")

    await page.get_by_role("link", name="Edit latest version").click()
    await expect(page.get_by_label("Number")).to_have_value("WH-1")
    await page.get_by_label("Number").fill("WH-2")
    await page.get_by_label("Expiry date").fill("not a date")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.locator("#e-expires_on")).to_contain_text("DD/MM/YYYY")
    await page.get_by_label("Expiry date").fill("04/11/2027")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.locator("#version-1")).to_contain_text("WH-2")
    await expect(page.locator("#version-1")).to_contain_text("04/11/2027")
    await mia.shot("edited")

    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Remove file").click()
    await expect(page.locator("#version-1")).to_contain_text("No files.")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Working at heights")

    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Will Worker's credentials")
    await expect(page.locator("#credentials")).not_to_contain_text("WH-2")


async def test_selected_items_approved_in_bulk(world: ConsoleWorld, browse: Any) -> None:
    tenant, people = world.tenant, world.people
    for title in ("Forklift (bulk 1)", "Crane (bulk 2)"):
        await tenant.accepted(
            "POST", "submission", "/credentials", people.admin,
            json={"credential_type_id": people.types["external"], "holder_id": people.will.user_id,
                  "title": title, "issued_on": "2026-10-05"},
        )  # fmt: skip
    mia = await browse("mia-bulk")
    await mia.sign_in_as(people.mia)
    await mia.page.goto(world.url + "/reviews")
    rows = mia.page.locator("#queue-rows tr", has_text="External certificate")
    await expect(rows).to_have_count(2, timeout=20_000)
    await mia.page.get_by_label("Company").select_option(label="Northwind")
    await mia.page.get_by_label("Type").select_option(label="External certificate")
    await mia.page.get_by_role("button", name="Filter").click()
    await expect(mia.page.locator("#queue-rows tr")).to_have_count(2)
    await expect(mia.page.locator("#queue-count")).to_contain_text("2")
    for index in range(2):
        await rows.nth(index).get_by_role("checkbox").check()
    await mia.page.get_by_role("button", name="Approve selected").click()
    await expect(mia.page.locator("#bulk-outcome")).to_contain_text("Approved 2")
    await mia.shot("bulk-approved")
    await expect(mia.page.locator("#queue-rows tr", has_text="External certificate")).to_have_count(
        0, timeout=20_000
    )
    will = await tenant.view_when(
        f"/workers/{people.will.user_id}", people.will,
        lambda w: sum(c["status"] == "verified" and c["credential_type_name"]
                      == "External certificate" for c in w["credentials"]) == 2,
    )  # fmt: skip
    assert will["user_id"] == people.will.user_id
    assert re.search("Approved", await mia.page.locator("#bulk-outcome").inner_text())


async def test_a_whole_import_approved_in_bulk(world: ConsoleWorld, browse: Any) -> None:
    tenant, people = world.tenant, world.people
    csv = (
        "email,credential_type,issued_on,expires_on,certification_number,issuer,notes,media_file\n"
        f"{people.will.email},External certificate,06/10/2026,,IMP-1,,,\n"
        f"{people.will.email},External certificate,07/10/2026,,IMP-2,,,\n"
    )
    report = await tenant.accepted(
        "POST", "importer", "/imports", people.admin,
        files=[("file", ("crew.csv", csv.encode(), "text/csv"))],
    )  # fmt: skip
    assert report["valid_rows"] == 2, report
    import_id = report["import_id"]
    await tenant.call("POST", "importer", f"/imports/{import_id}/finish", people.admin, 202)
    mia = await browse("mia-import")
    await mia.sign_in_as(people.mia)
    await mia.page.goto(world.url + "/reviews")
    await expect(mia.page.locator("#queue-rows tr", has_text="import")).to_have_count(
        2, timeout=30_000
    )
    await mia.page.get_by_label("Import").select_option(value=import_id)
    await mia.page.get_by_role("button", name="Filter").click()
    await expect(mia.page.locator("#queue-rows tr")).to_have_count(2)
    await mia.page.locator("h1").click()
    for key in ("j", "j", "k", "x"):  # down, down, up, select: the first row
        await mia.page.keyboard.press(key)
    first = mia.page.locator("#queue-rows tr").first
    await expect(first).to_have_class(re.compile("current"))
    await expect(first.get_by_role("checkbox")).to_be_checked()
    await mia.page.get_by_role("button", name="Approve the whole import").click()
    await expect(mia.page.locator("#bulk-outcome")).to_contain_text("Approved 2")
    await mia.shot("import-approved")
