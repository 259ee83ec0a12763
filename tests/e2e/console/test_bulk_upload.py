"""The bulk upload wizard in the browser, step for step: the template; a file with each kind
of error of SafetyCulture's troubleshooting table, every problem shown at its row and column
with how to fix it; the fixed file re-uploaded; media for one row and optional for the rest;
finished with the progress bar at 100%; approved from the pop-up; verified in the client
viewer's list."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.console.conftest import ConsoleWorld
from tests.e2e.console.test_certificates_and_managed_organisations import pdf

pytestmark = pytest.mark.e2e
HEADER = "email,credential_type,issued_on,expires_on,certification_number,issuer,notes,media_file"


def rows(world: ConsoleWorld, fixed: bool) -> str:
    p = world.people
    ext, licence = "External certificate", "Driver's licence"
    lines = [
        f"{p.uma.email},{licence},01/09/2026,,WZ-1,,,uma-licence.pdf",
        f"{p.ivo.email},{licence},02/09/2026,,WZ-2,,,ivo-licence.pdf",
        f"{p.uma.email},{ext if fixed else 'Unicorn licence'},03/09/2026,,WZ-4,,,",
        f"{p.ivo.email},{ext},{'28/02/2026' if fixed else '31/02/2026'},,WZ-5,,,",
        f"{p.ivo.email},Site pass,01/09/2026,{'01/08/2027' if fixed else '01/08/2026'},WZ-6,,,",
        f"{p.uma.email},{ext},{'04/09/2026' if fixed else ''},,WZ-7,,,",
    ]
    if not fixed:
        lines += [
            f"nobody@{world.tenant.domain},{ext},01/09/2026,,WZ-3,,,",
            f"{p.dan.email},{ext},01/09/2026,,WZ-8,,,",
            lines[1],  # the same credential twice
        ]
    return "\n".join([HEADER, *lines]) + "\n"


async def test_the_bulk_upload_wizard(world: ConsoleWorld, browse: Any, tmp_path: Path) -> None:
    ada = await browse("ada-upload")
    await ada.sign_in_as(world.people.admin)
    page = ada.page
    await page.get_by_role("link", name="Administration").click()
    await page.get_by_role("link", name="Bulk upload").click()
    async with page.expect_download() as template_info:
        await page.get_by_role("link", name="Download CSV template").click()
    template = tmp_path / "template.csv"
    await (await template_info.value).save_as(template)
    assert (await asyncio.to_thread(template.read_text)).startswith(HEADER)
    await ada.shot("start")

    broken, fixed = tmp_path / "crew.csv", tmp_path / "crew-fixed.csv"
    broken.write_text(rows(world, fixed=False))
    fixed.write_text(rows(world, fixed=True))
    await page.set_input_files("#f-files", str(broken))
    await page.get_by_role("button", name="Upload CSV").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Review data")
    await expect(page.locator("#import-summary")).to_contain_text("9 rows")
    problems = page.locator("#problems tbody tr")
    expected = {  # row (header is row 1) -> column, words of the fix
        "4": ("credential_type", "No credential type has this name"),
        "5": ("issued_on", "Write the date in your date format"),
        "6": ("expires_on", "must come after the issue date"),
        "7": ("issued_on", "needs a value"),
        "8": ("email", "No active user has this email"),
        "9": ("email", "deactivated"),
        "10": ("", "appears twice"),
    }
    for row, (column, fix) in expected.items():
        found = problems.filter(has=page.locator("td.cell-row", has_text=re.compile(f"^{row}$")))
        await expect(found.first).to_contain_text(fix)
        if column:
            await expect(found.first.locator("td.cell-column")).to_have_text(column)
    await ada.shot("review-data")
    async with page.expect_download() as report_info:
        await page.get_by_role("link", name="Download the report (CSV)").click()
    report = tmp_path / "report.csv"
    await (await report_info.value).save_as(report)
    assert "unknown_user" in await asyncio.to_thread(report.read_text)

    await page.set_input_files("#f-reupload", str(fixed))
    await page.get_by_role("button", name="Re-upload").click()
    await expect(page.locator("#import-summary")).to_contain_text("6 ready, 0 with problems")
    await page.get_by_role("link", name="Next").click()
    await expect(page.locator("#media-state")).to_contain_text("2 row(s) still need a file")
    certificate = tmp_path / "uma-licence.pdf"
    certificate.write_bytes(pdf("Uma's licence"))
    await page.set_input_files("#f-files", str(certificate))
    await page.get_by_role("button", name="Upload media").click()
    await expect(page.locator("#media-outcomes")).to_contain_text("Attached to row 2")
    await expect(page.locator("#media-state")).to_contain_text("1 row(s) still need a file")
    await ada.shot("media")
    await page.get_by_role("button", name="Make media optional").click()
    await expect(page.locator("#media-state")).to_contain_text("Media is optional")
    await page.get_by_role("button", name="Finish and upload").click()

    dialog = page.locator("#approve-dialog")
    await expect(dialog).to_be_visible(timeout=60_000)
    bar = page.locator("#import-progress")
    assert await bar.get_attribute("value") == await bar.get_attribute("max") == "6"
    await expect(page.locator("#import-status")).to_contain_text("6 credentials added")
    await ada.shot("finished")
    await dialog.get_by_role("button", name="Approve all").click()
    await expect(page.locator("#approve-outcome")).to_contain_text("Approved 5")

    casey = await browse("casey-upload")
    await casey.sign_in_as(world.people.casey, landing=r"/network/workers$")
    await casey.page.goto(world.url + "/network/credentials?q=WZ-&status=verified")
    await expect(casey.page.locator("#rows tr")).to_have_count(5, timeout=20_000)
    await casey.page.goto(world.url + "/network/credentials?q=WZ-6")
    await expect(casey.page.locator("#rows")).to_contain_text("Submitted")
    await casey.shot("uploaded-credentials")
