"""Browser tests: Playwright (the Python package) driving Debian's Chromium against every
service as its own process, the console included, and `oidc-provider-mock` as the identity
provider, on loopback. A failing test saves a screenshot of its pages; a passing run saves one
screenshot per page it visited (`build/screenshots/`, not committed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from credflow.services import SERVICES
from credflow_common.auth import PLATFORM_PERMISSION, issue_dev_token
from credflow_contracts.ids import uuid7
from tests.e2e.journeys.conftest import Person, Tenant
from tests.e2e.system import System, free_port, running_system
from tests.infrastructure import Infrastructure, temporary_database
from tests.polling import eventually

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "build" / "screenshots"


@dataclass
class People:
    admin: Person
    will: Person
    mia: Person
    lee: Person
    gail: Person  # a group admin (with Riley): reviews for Lee, who has no manager
    riley: Person
    rory: Person  # a second reviewer
    dan: Person  # deactivated
    casey: Person  # a client viewer
    carl: Person  # a contractor in Southbank, without a manager: the admin reviews for him
    uma: Person  # Eastside's workers, whose credentials come by bulk upload
    ivo: Person
    types: dict[str, str] = field(default_factory=dict)


@dataclass
class ConsoleWorld:
    system: System
    tenant: Tenant
    people: People
    oidc_url: str
    browser: Browser

    @property
    def url(self) -> str:
        return self.system.url("console")


def _start_oidc_provider(port: int, users: list[dict[str, Any]]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)]
    for user in users:
        command += ["--user-claims", json.dumps(user)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _oidc_provider(port: int, users: list[dict[str, Any]]) -> subprocess.Popen[bytes]:
    process = _start_oidc_provider(port, users)
    async with httpx.AsyncClient() as client:

        async def answers() -> bool:
            assert process.poll() is None, "oidc-provider-mock exited"
            try:
                url = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
                return (await client.get(url)).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(answers, timeout_s=30)
    return process


async def _people(tenant: Tenant) -> People:
    admin = tenant.admin
    crew = await tenant.post("directory", "/groups", admin, name="Learners")
    mia = await tenant.person("Mia Manager", ["manager"])
    northwind = await tenant.post("directory", "/companies", admin, name="Northwind")
    will = await tenant.person("Will Worker", ["worker"], manager_id=mia.user_id,
                               company_id=northwind["company_id"])  # fmt: skip
    gail = await tenant.person("Gail Groupadmin", ["reviewer"])
    lee = await tenant.person("Lee Learner", ["worker"], group_ids=[crew["group_id"]])
    riley = await tenant.person("Riley Reviewer", ["reviewer"])
    await tenant.call("PATCH", "directory", f"/groups/{crew['group_id']}", admin,
                      json={"admin_ids": [gail.user_id, riley.user_id]})  # fmt: skip
    rory = await tenant.person("Rory Reviewer", ["reviewer"])
    dan = await tenant.person("Dan Departed", ["worker"])
    casey = await tenant.person("Casey Client", ["client_viewer"])
    southbank = await tenant.post("directory", "/companies", admin, name="Southbank")
    carl = await tenant.person("Carl Contractor", ["worker"], company_id=southbank["company_id"])
    eastside = await tenant.post("directory", "/companies", admin, name="Eastside")
    uma = await tenant.person("Uma Upload", ["worker"], company_id=eastside["company_id"])
    ivo = await tenant.person("Ivo Import", ["worker"], company_id=eastside["company_id"])
    await tenant.call("POST", "directory", f"/users/{dan.user_id}/deactivate", admin, json={})
    people = People(admin, will, mia, lee, gail, riley, rory, dan, casey, carl, uma, ivo)
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("licence", {"name": "Driver's licence", "default_validity_months": 60,
                     "validation_required": True, "media_required": True}),
        ("external", {"name": "External certificate", "expires": False,
                      "validation_required": True}),
        ("heights", {"name": "Working at heights", "default_validity_months": 24}),
        ("white_card", {"name": "White card", "expires": False, "validation_required": False}),
        ("site_pass", {"name": "Site pass", "default_validity_months": 12,
                       "validation_required": False}),
    ]  # fmt: skip
    for name, body in kinds:
        created = await tenant.post("directory", "/credential-types", admin, **body)
        people.types[name] = created["credential_type_id"]
    await tenant.post("directory", "/requirements", admin,
                      credential_type_id=people.types["licence"], scope="all_workers")  # fmt: skip
    return people


@pytest.fixture(scope="package")
async def world(infra: Infrastructure) -> AsyncIterator[ConsoleWorld]:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # this run's pictures only
    unique = uuid.uuid4().hex[:12]
    org = uuid7()
    domain = f"console-{unique[:6]}.test"
    oidc_port = free_port()
    users = [
        {"sub": "will", "email": f"will.worker@{domain}", "email_verified": True},
        {"sub": "stranger", "email": f"nobody@{domain}", "email_verified": True},
        {"sub": "dan", "email": f"dan.departed@{domain}", "email_verified": True},
        {"sub": "unverified", "email": f"mia.manager@{domain}", "email_verified": False},
    ]
    provider = await _oidc_provider(oidc_port, users)
    oidc_url = f"http://127.0.0.1:{oidc_port}"
    try:
        async with (
            temporary_database(infra.database_url, f"console_{unique}") as database_url,
            running_system(
                infra, database_url, f"c{unique}.", tuple(SERVICES),
                MAIL_API_URL=infra.mail_api_url, CREDFLOW_ENVIRONMENT="development",
                CREDFLOW_CONSOLE_DEV_ORGANISATION_ID=str(org),
                CREDFLOW_CONSOLE_OIDC_ISSUER=oidc_url, CREDFLOW_CONSOLE_OIDC_CLIENT_ID="credflow",
                CREDFLOW_CONSOLE_OIDC_CLIENT_SECRET="console-secret",
                CREDFLOW_CONSOLE_REFRESH_S="1",
            ) as system,
            httpx.AsyncClient(timeout=30) as client,
            async_playwright() as playwright,
        ):  # fmt: skip
            platform = issue_dev_token(uuid7(), UUID(int=0), [], [PLATFORM_PERMISSION])
            response = await client.post(
                f"{system.url('directory')}/organisations",
                json={"organisation_id": str(org), "name": "Console Test Co",
                      "settings": {"time_zone": "UTC", "default_date_format": "DD/MM/YYYY"},
                      "admin": {"email": f"ada.admin@{domain}", "name": "Ada Admin"}},
                headers={"Authorization": f"Bearer {platform}"},
            )  # fmt: skip
            assert response.status_code == 201, response.text
            admin = Person(response.json()["admin_user_id"], "Ada Admin", f"ada.admin@{domain}",
                           ["admin"], org, ["users:manage"])  # fmt: skip
            tenant = Tenant(system, org, admin, client, domain)
            people = await _people(tenant)
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield ConsoleWorld(system, tenant, people, oidc_url, browser)
            await browser.close()
    finally:
        provider.terminate()
        provider.wait()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


UNLABELLED_CONTROLS = """() => Array.from(document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map(el => el.outerHTML.slice(0, 120))"""


class Visitor:
    """One person's browser (a context of its own: cookies apart), saving a screenshot of
    every page it is shown."""

    def __init__(self, context: BrowserContext, page: Page, test: str, world: ConsoleWorld):
        self.context, self.page, self.test, self.world = context, page, test, world
        self.shots = 0
        self.messages: list[str] = []
        page.on("console", lambda message: self.messages.append(message.text))

    async def shot(self, name: str) -> None:
        """A screenshot of the page, after checking what every page must be: within its content
        security policy, each control labelled, and no sideways scrolling on a phone."""
        refused = [m for m in self.messages if "Content Security Policy" in m]
        assert not refused, f"the page broke its own content security policy: {refused}"
        unlabelled = await self.page.evaluate(UNLABELLED_CONTROLS)
        assert not unlabelled, f"controls without a label on {self.page.url}: {unlabelled}"
        width = self.page.viewport_size["width"] if self.page.viewport_size else 0
        if width <= 400:
            scroll = await self.page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"{self.page.url} scrolls sideways on a phone ({scroll} px)"
        self.shots += 1
        folder = SCREENSHOTS / "pages" / self.test
        folder.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=folder / f"{self.shots:02}-{name}.png", full_page=True)

    async def sign_in_as(self, person: Person, landing: str = r"/credentials$") -> None:
        await self.page.goto(self.world.url + "/sign-in/as")
        await self.page.get_by_role("button", name=re.compile(f"^{person.name}")).click()
        await self.page.wait_for_url(re.compile(landing))


@pytest.fixture
async def browse(world: ConsoleWorld, request: pytest.FixtureRequest
                 ) -> AsyncIterator[Any]:  # fmt: skip
    """`await browse("label", viewport=...)`: a Visitor; on failure every one saves a
    screenshot to build/screenshots/failed/."""
    visitors: list[Visitor] = []

    async def open_visitor(label: str, width: int = 1200, height: int = 900) -> Visitor:
        context = await world.browser.new_context(viewport={"width": width, "height": height})
        page = await context.new_page()
        visitor = Visitor(context, page, f"{request.node.name}-{label}", world)
        visitors.append(visitor)
        return visitor

    yield open_visitor
    failed = request.node.stash.get(FAILED, False)
    for visitor in visitors:
        if failed:
            folder = SCREENSHOTS / "failed"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{visitor.test}.png"
            await visitor.page.screenshot(path=path, full_page=True)
            print(f"screenshot of the failed page: {path}")
        await visitor.context.close()
