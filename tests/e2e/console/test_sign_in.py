"""Signing in: OpenID Connect against `oidc-provider-mock` (a verified email of an active
person signs in; an unknown email, a deactivated person and an unverified email are refused
with a clear page); a form without its CSRF token is refused; signing out ends the session."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.e2e.console.conftest import ConsoleWorld, Visitor

pytestmark = pytest.mark.e2e


async def sign_in_with_provider(visitor: Visitor, subject: str) -> None:
    page = visitor.page
    await page.goto(visitor.world.url + "/credentials")
    await expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    await visitor.shot("sign-in")
    await page.get_by_role("link", name="Sign in with your organisation's account").click()
    await expect(page).to_have_url(re.compile(re.escape(visitor.world.oidc_url)))
    await page.get_by_role("button", name=subject, exact=True).click()


async def test_a_verified_email_of_an_active_person_signs_in_and_out(
    world: ConsoleWorld, browse: Any
) -> None:
    will = await browse("will")
    await sign_in_with_provider(will, "will")
    await expect(will.page).to_have_url(world.url + "/credentials")
    await expect(will.page.get_by_role("heading", level=1)).to_have_text("My credentials")
    await expect(will.page.locator(".who")).to_have_text("Will Worker")
    cookie = next(c for c in await will.context.cookies() if c["name"] == "credflow_session")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"
    await will.shot("signed-in")

    await will.page.get_by_role("button", name="Sign out").click()
    await expect(will.page.locator(".notice")).to_have_text("You are signed out.")
    await will.page.goto(world.url + "/credentials")
    await expect(will.page).to_have_url(re.compile(r"/sign-in\?next=/credentials$"))


@pytest.mark.parametrize(
    ("subject", "says"),
    [
        ("stranger", "No credflow account uses nobody@"),
        ("dan", "is deactivated"),
        ("unverified", "has not verified the email address"),
    ],
)
async def test_people_who_may_not_sign_in_are_told_why(
    world: ConsoleWorld, browse: Any, subject: str, says: str
) -> None:
    visitor = await browse(subject)
    await sign_in_with_provider(visitor, subject)
    await expect(visitor.page.get_by_role("heading", level=1)).to_have_text("You cannot sign in")
    await expect(visitor.page.get_by_role("alert")).to_contain_text(says)
    await visitor.shot("refused")
    await visitor.page.goto(world.url + "/credentials")
    await expect(visitor.page).to_have_url(re.compile(r"/sign-in"))


async def test_a_form_without_its_csrf_token_is_refused(world: ConsoleWorld, browse: Any) -> None:
    will = await browse("will-csrf")
    await will.sign_in_as(world.people.will)
    await will.page.goto(world.url + "/settings/notifications")
    await will.page.locator("#main input[name=csrf_token]").evaluate("input => input.remove()")
    await will.page.get_by_label("Days before the expiry").fill("14")
    await will.page.get_by_role("button", name="Save").click()
    await expect(will.page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    await expect(will.page.get_by_role("alert")).to_contain_text("did not come from credflow")
    # The same form with its token goes through.
    await will.page.goto(world.url + "/settings/notifications")
    await will.page.get_by_label("Days before the expiry").fill("14, 3")
    await will.page.get_by_label("Send my manager a copy").check()
    await will.page.get_by_role("button", name="Save").click()
    await expect(will.page.locator(".notice")).to_have_text("Saved.")
    await expect(will.page.get_by_label("Days before the expiry")).to_have_value("14, 3")
    await will.shot("notifications")


async def test_pages_carry_security_headers_and_the_jwks(world: ConsoleWorld) -> None:
    async with httpx.AsyncClient() as client:
        page = await client.get(world.url + "/sign-in")
        keys = (await client.get(world.url + "/.well-known/jwks.json")).json()["keys"]
        elsewhere = await client.get(world.url + "/sign-in/as", params={"next": "//evil.test"})
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert keys
    assert keys[0]["kty"] == "RSA"
    assert keys[0]["alg"] == "RS256"
    assert 'value="/"' in elsewhere.text
    assert "evil.test" not in elsewhere.text


async def test_only_the_console_finds_people_by_email(world: ConsoleWorld) -> None:
    """The directory's sign-in lookup answers the console's own token, not an admin's."""
    people = world.people
    async with httpx.AsyncClient() as client:
        url = f"{world.system.url('directory')}/people"
        refused = await client.get(url, params={"email": people.will.email},
                                   headers=people.admin.headers)  # fmt: skip
    assert refused.status_code == 403
