"""An external certificate, rejected then accepted; an admin-managed organisation, where
workers read and reviewers add."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.console.conftest import ConsoleWorld
from tests.e2e.console.test_worker_and_reviewer import png
from tests.polling import eventually

pytestmark = pytest.mark.e2e


def pdf(text: str) -> bytes:
    """A real one-page PDF saying `text`, so the browser's viewer shows it."""
    content = f"BT /F1 18 Tf 30 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 200] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    document, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(document))
        document += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    table = len(document)
    document += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    document += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
    return document + trailer % (len(objects) + 1, table)


async def test_external_certificate_rejected_with_a_reason_then_validated(
    world: ConsoleWorld, browse: Any, tmp_path: Path
) -> None:
    """Lee, a learner without a manager, uploads a PDF with its title and no expiry; Gail, his
    group's admin, names the internal type it counts as and rejects it with a comment; Lee
    reads the reason and is mailed; his new version is validated."""
    certificate = tmp_path / "tafe-certificate.pdf"
    certificate.write_bytes(pdf("Working at heights - TAFE"))
    lee = await browse("lee")
    await lee.sign_in_as(world.people.lee)
    await lee.page.get_by_role("link", name="Add a credential").click()
    await lee.page.get_by_label("Type").select_option(label="External certificate")
    await expect(lee.page.locator("#type-rules")).to_contain_text("does not expire")
    await lee.page.get_by_label("Title (as printed on the certificate)").fill(
        "Working at heights (TAFE)"
    )
    await lee.page.get_by_label("Issue date").fill("02/11/2026")
    await lee.page.set_input_files("#f-files", str(certificate))
    await lee.shot("add-certificate")
    await lee.page.get_by_role("button", name="Add credential").click()
    await expect(lee.page.get_by_role("heading", level=1)).to_have_text("Working at heights (TAFE)")
    await expect(lee.page.locator("#version-1")).to_contain_text("No expiry")

    gail = await browse("gail")
    await gail.sign_in_as(world.people.gail)
    await gail.page.goto(world.url + "/reviews")
    row = gail.page.locator("#queue-rows tr", has_text="Lee Learner")
    await expect(row).to_have_count(1, timeout=20_000)
    await row.get_by_role("link").first.click()
    await expect(gail.page.locator(".document iframe")).to_have_attribute(
        "title", "tafe-certificate.pdf"
    )
    await expect(gail.page.get_by_label("Name / title")).to_have_value("Working at heights (TAFE)")
    await gail.page.get_by_label("Counts as (internal equivalent)").select_option(
        label="Working at heights"
    )
    await gail.page.get_by_role("button", name=re.compile("^Reject")).click()  # no comment yet
    await expect(gail.page.locator("#re-comment")).to_contain_text("tell the holder why")
    await gail.page.locator("h1").click()
    await gail.page.keyboard.press("r")
    await expect(gail.page.get_by_label(re.compile("^Comment"))).to_be_focused()
    await expect(gail.page.get_by_label("Counts as (internal equivalent)")).to_have_value(
        world.people.types["heights"]
    )  # what she had chosen is kept
    await gail.page.keyboard.type("Page 2 is missing")
    await gail.page.wait_for_timeout(1500)  # the browser's PDF viewer paints, for the picture
    await gail.shot("reject")
    await gail.page.get_by_role("button", name=re.compile("^Reject")).click()
    await expect(gail.page.locator(".notice")).to_contain_text("Rejected: Lee Learner's")

    await lee.page.get_by_role("link", name="My credentials").first.click()
    card = lee.page.locator("#credentials li", has_text="Working at heights (TAFE)")
    await expect(card).to_contain_text("Not accepted", timeout=20_000)
    await expect(card).to_contain_text("Reason: Page 2 is missing")
    await lee.shot("not-accepted")
    subjects = await world.tenant.mail_subjects(world.people.lee, 1)
    assert any("not accepted" in subject for subject in subjects), subjects

    await card.get_by_role("link", name="Working at heights (TAFE)").click()
    await expect(lee.page.locator("#version-1")).to_contain_text("Page 2 is missing")
    await expect(lee.page.locator(".facts").first).to_contain_text("Counts as")
    await lee.page.get_by_role("link", name="Add version").click()
    await expect(lee.page.get_by_label(re.compile("^Title"))).to_have_value(
        "Working at heights (TAFE)"
    )
    await lee.page.get_by_label("Issue date").fill("02/11/2026")
    await lee.page.set_input_files("#f-files", str(certificate))
    await lee.page.get_by_role("button", name="Add version").click()
    await expect(lee.page.locator("#version-2")).to_be_visible()

    await gail.page.get_by_role("button", name=re.compile("^Next item")).click()
    await expect(gail.page.get_by_role("heading", level=1)).to_contain_text("Lee Learner")
    await expect(gail.page.locator("#claim-state")).to_contain_text("Claimed by you")
    await gail.page.locator("h1").click()
    await gail.page.keyboard.press("v")
    await expect(gail.page.locator(".notice")).to_contain_text("Validated: Lee Learner's")
    await lee.page.reload()
    await expect(lee.page.locator(".heading .status")).to_have_text("Verified", timeout=20_000)
    await lee.shot("validated")


async def test_admin_managed_workers_read_and_reviewers_add(
    world: ConsoleWorld, browse: Any, tmp_path: Path
) -> None:
    tenant, people = world.tenant, world.people
    photo = tmp_path / "white-card.png"
    photo.write_bytes(png())
    await tenant.call("PATCH", "directory", "/settings", people.admin,
                      json={"credential_management": "admin_managed"})  # fmt: skip
    try:
        will = await browse("will")
        await will.sign_in_as(people.will)

        async def read_only() -> bool:
            await will.page.goto(world.url + "/credentials")
            buttons: int = await will.page.get_by_role("link", name="Add a credential").count()
            return buttons == 0

        await eventually(read_only, timeout_s=20)
        await expect(will.page.locator(".notice")).to_contain_text("admins manage credentials")
        await will.shot("read-only")

        riley = await browse("riley")
        await riley.sign_in_as(people.riley)
        await riley.page.get_by_role("link", name="Workers").click()
        await riley.page.get_by_label("Name or email").fill("Will")
        await riley.page.get_by_role("button", name="Filter").click()
        await riley.page.get_by_role("link", name="Will Worker").click()
        await riley.page.get_by_role("link", name="Add a credential").click()
        await expect(riley.page.get_by_role("heading", level=1)).to_have_text(
            "Add a credential for Will Worker"
        )
        await riley.page.get_by_label("Type").select_option(label="White card")
        await riley.page.get_by_label("Issue date").fill("03/11/2026")
        await riley.page.get_by_label("Number").fill("WC-20931")
        await riley.page.set_input_files("#f-files", str(photo))
        await riley.page.get_by_role("button", name="Add credential").click()
        await expect(riley.page.locator(".facts").first).to_contain_text("Will Worker")
        await riley.shot("added-for-will")

        await will.page.reload()
        card = will.page.locator("#credentials li", has_text="White card")
        await card.get_by_role("link", name="White card").click()
        await expect(will.page.locator("#version-1")).to_contain_text("WC-20931")
        assert await will.page.get_by_role("link", name="Add version").count() == 0
        assert await will.page.get_by_role("button", name="Delete").count() == 0
        async with will.page.expect_download() as download_info:
            await will.page.get_by_role("link", name="Download").first.click()
        download = await download_info.value
        assert download.suggested_filename == "white-card.png"
        saved = tmp_path / "downloaded.png"
        await download.save_as(saved)
        assert saved.read_bytes() == photo.read_bytes()
        await will.shot("credential-read-only")
    finally:
        await tenant.call("PATCH", "directory", "/settings", people.admin,
                          json={"credential_management": "self_service"})  # fmt: skip
