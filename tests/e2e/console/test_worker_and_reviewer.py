"""The licence journey in the browser: Will adds his driver's licence with a photo; Mia, his
manager, finds it in her queue, sees the photo beside its fields, corrects the expiry date and
validates it with the keyboard; Will's page shows "verified" and compliance by itself; he
renews it and sees both versions."""

from __future__ import annotations

import base64
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.e2e.console.conftest import ConsoleWorld

pytestmark = pytest.mark.e2e


def png(width: int = 120, height: int = 80) -> bytes:
    """A real (decodable) PNG, so the browser shows it."""
    rows = b"".join(
        b"\x00" + b"".join(bytes(((x * 3) % 256, (y * 2) % 256, 180)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))  # fmt: skip


async def drop_file(page: Page, target: str, name: str, content: bytes) -> None:
    """Drag a file from the desktop and drop it on `target`."""
    transfer = await page.evaluate_handle(
        """([name, encoded]) => {
            const bytes = Uint8Array.from(atob(encoded), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, {type: "image/png"}));
            return transfer;
        }""",
        [name, base64.b64encode(content).decode()],
    )
    await page.dispatch_event(target, "dragover", {"dataTransfer": transfer})
    await page.dispatch_event(target, "drop", {"dataTransfer": transfer})


async def test_licence_added_validated_with_the_keyboard_and_renewed(
    world: ConsoleWorld, browse: Any, tmp_path: Path
) -> None:
    photo = tmp_path / "licence.png"
    photo.write_bytes(png())
    will = await browse("will", width=390, height=844)  # a phone
    await will.sign_in_as(world.people.will)
    page = will.page
    await expect(page.locator("#compliance")).to_contain_text("Not compliant")
    await will.shot("my-credentials")
    await page.get_by_role("link", name="Add a credential").click()
    await page.get_by_label("Type").select_option(label="Driver's licence")
    await expect(page.locator("#type-rules")).to_contain_text("A file is required")
    await page.get_by_label("Issue date").fill("31/02/2026")  # no such day: refused here
    await page.get_by_role("button", name="Add credential").click()
    await expect(page.locator("#e-issued_on")).to_contain_text("DD/MM/YYYY")
    await will.shot("add-refused")
    await page.get_by_label("Issue date").fill("01/11/2026")
    await page.get_by_role("button", name="Add credential").click()
    await expect(page.locator("#e-files")).to_contain_text("needs a file")  # the API's refusal
    await page.get_by_label("Expiry date").fill("01/10/2026")  # before the issue date
    await drop_file(page, "#drop", "licence.png", photo.read_bytes())
    await page.get_by_role("button", name="Add credential").click()
    await expect(page.locator("#e-expires_on")).to_contain_text("after the issue date")
    await expect(page.get_by_label("Issue date")).to_have_value("01/11/2026")  # kept
    await page.get_by_label("Expiry date").fill("")
    await page.get_by_label("Number").fill("DL-20931")
    await drop_file(page, "#drop", "licence.png", photo.read_bytes())
    await expect(page.locator("#chosen")).to_contain_text("licence.png")
    await will.shot("add")
    await page.get_by_role("button", name="Add credential").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Driver's licence")
    await expect(page.locator(".heading .status")).to_have_text("Pending review")
    await expect(page.locator("#version-1")).to_contain_text("01/11/2031")  # 60 months on
    await will.shot("credential")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the credential page scrolls sideways on a phone ({width} px)"
    credential_url = page.url.split("?")[0]
    await page.get_by_role("link", name="My credentials").first.click()
    await expect(page.locator("#credentials")).to_contain_text("Pending review")

    mia = await browse("mia")
    await mia.sign_in_as(world.people.mia)
    await mia.page.get_by_role("link", name="Review queue").click()
    row = mia.page.locator("#queue-rows tr", has_text="Will Worker")
    await expect(row).to_contain_text("Free")
    await mia.shot("queue")
    await row.get_by_role("link", name="Driver's licence").click()
    image = mia.page.locator(".document img")
    await expect(image).to_be_visible()
    assert await image.evaluate("img => img.complete && img.naturalWidth") == 120
    await mia.shot("review")
    await mia.page.get_by_label("Expiry date").fill("01/11/2030")
    await mia.page.locator("h1").click()  # out of the field: shortcuts apply
    await mia.page.keyboard.press("?")
    await expect(mia.page.locator("#shortcut-help")).to_be_visible()
    await mia.shot("shortcuts")
    await mia.page.keyboard.press("Escape")
    await mia.page.keyboard.press("v")
    await expect(mia.page.locator(".notice")).to_contain_text("Validated: Will Worker's")
    await mia.shot("queue-after")

    # Will's page, left open, shows the decision without his reloading it.
    await expect(page.locator("#compliance")).to_contain_text("Compliant", timeout=20_000)
    await expect(page.locator("#credentials")).to_contain_text("Verified")
    await will.shot("my-credentials-verified")
    await page.goto(credential_url)
    await expect(page.locator("#version-1")).to_contain_text("01/11/2030")  # Mia's correction
    await page.get_by_role("link", name="Add version").click()
    await page.get_by_label("Issue date").fill("01/12/2026")
    await page.set_input_files("#f-files", str(photo))
    await page.get_by_role("button", name="Add version").click()
    await expect(page.locator("#version-2")).to_contain_text("01/12/2026")
    await expect(page.locator("#version-1")).to_contain_text("Verified")
    await will.shot("renewed")


async def test_two_reviewers_claim_the_same_item(world: ConsoleWorld, browse: Any) -> None:
    """Lee has no manager: his items go to his group's admins, Gail and Riley. Both open the
    same item; Gail claims it; Riley's claim gets a clear message and the item as it is now."""
    people, tenant = world.people, world.tenant
    await tenant.accepted(
        "POST", "submission", "/credentials", people.admin,
        json={"credential_type_id": people.types["external"], "holder_id": people.lee.user_id,
              "title": "Scaffolding (TAFE)", "issued_on": "2026-10-01"},
    )  # fmt: skip
    gail, riley = await browse("gail"), await browse("riley")
    await gail.sign_in_as(people.gail)
    await riley.sign_in_as(people.riley)
    await gail.page.goto(world.url + "/reviews")
    item = gail.page.locator("#queue-rows tr", has_text="Lee Learner")
    await expect(item).to_be_visible(timeout=20_000)
    link = await item.get_by_role("link").first.get_attribute("href")
    assert link
    await riley.page.goto(world.url + link)
    await gail.page.goto(world.url + link)
    await gail.page.get_by_role("button", name=re.compile("^Claim")).click()
    await expect(gail.page.locator("#claim-state")).to_contain_text("Claimed by you")
    await riley.page.get_by_role("button", name=re.compile("^Claim")).click()
    await expect(riley.page.locator("#review-message")).to_contain_text(
        "Someone else got there first"
    )
    await expect(riley.page.locator("#claim-state")).to_contain_text("another reviewer")
    await riley.shot("claimed-by-someone-else")
    await gail.page.locator("h1").click()
    await gail.page.keyboard.press("v")
    await expect(gail.page.locator(".notice")).to_contain_text("Validated: Lee Learner's")
