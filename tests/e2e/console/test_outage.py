"""A service the console needs is gone: its pages answer 503 with a calm explanation (never a
500, never a hang), and work again as soon as the service is back."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.console.conftest import ConsoleWorld

pytestmark = pytest.mark.e2e


async def test_pages_say_a_service_is_away_and_recover(world: ConsoleWorld, browse: Any) -> None:
    will = await browse("will-outage")
    await will.sign_in_as(world.people.will)
    world.system.kill("projection")
    try:
        started = time.monotonic()
        response = await will.page.goto(world.url + "/credentials")
        assert response is not None
        assert response.status == 503
        assert time.monotonic() - started < 15
        await expect(will.page.get_by_role("heading", level=1)).to_have_text(
            "Temporarily unavailable"
        )
        await expect(will.page.get_by_role("alert")).to_contain_text("Your data is safe")
        await will.shot("unavailable")
    finally:
        world.system.start("projection")
        await world.system.ready("projection")
    response = await will.page.goto(world.url + "/credentials")
    assert response is not None
    assert response.status == 200
    await expect(will.page.get_by_role("heading", level=1)).to_have_text("My credentials")
