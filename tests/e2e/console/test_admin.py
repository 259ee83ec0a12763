"""Administration in the browser: the admin creates a credential type and requires it of a
company's workers, switches the organisation to admin-managed and back (a worker's pages follow),
and deactivates and reactivates a user (who cannot sign in meanwhile)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.console.conftest import ConsoleWorld
from tests.polling import eventually

pytestmark = pytest.mark.e2e


async def test_an_admin_sets_the_organisation_up(world: ConsoleWorld, browse: Any) -> None:
    people = world.people
    ada = await browse("ada")
    await ada.sign_in_as(people.admin)
    page = ada.page
    await page.get_by_role("link", name="Administration").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("settings")
    await ada.shot("settings")

    # A credential type, refused once (a validity that is not a number), then created.
    await page.get_by_role("link", name="Credential types").click()
    await page.get_by_role("link", name="New type").click()
    await page.get_by_label("Name").fill("Confined spaces")
    await page.get_by_label("Default validity (months)").fill("many")
    await page.get_by_role("button", name="Create type").click()
    await expect(page.locator("#e-default_validity_months")).to_contain_text("whole number")
    await expect(page.get_by_label("Name")).to_have_value("Confined spaces")  # kept
    await page.get_by_label("Default validity (months)").fill("24")
    await page.get_by_label("Validation").select_option(label="A reviewer validates each one")
    await page.get_by_label("A photo or PDF is required").check()
    await page.get_by_label("PDF", exact=True).check()
    await ada.shot("new-type")
    await page.get_by_role("button", name="Create type").click()
    row = page.locator("#types tr", has_text="Confined spaces")
    await expect(row).to_contain_text("24 months")
    await expect(row).to_contain_text("Required (PDF)")
    await ada.shot("types")

    # Required of Southbank's workers: Carl's profile now lists it.
    await page.get_by_role("link", name="Requirements").click()
    await page.get_by_label("Credential type").select_option(label="Confined spaces")
    await page.get_by_label("Of", exact=True).select_option(label="A company's workers")
    await page.get_by_label("Company").select_option(label="Southbank")
    await page.get_by_role("button", name="Add requirement").click()
    await expect(page.locator("#requirements tr", has_text="Confined spaces")).to_contain_text(
        "Workers of Southbank"
    )
    await ada.shot("requirements")
    carl = await world.tenant.view_when(
        f"/workers/{people.carl.user_id}", people.admin,
        lambda w: any(r["credential_type_name"] == "Confined spaces" for r in w["requirements"]),
    )  # fmt: skip
    assert carl["compliant"] is False

    # Admin-managed and back: Will's add button goes and comes back.
    will = await browse("will-admin")
    await will.sign_in_as(people.will)

    async def will_may_add(expected: bool) -> None:
        async def follows() -> bool:
            await will.page.goto(world.url + "/credentials")
            found: int = await will.page.get_by_role("link", name="Add a credential").count()
            return (found == 1) == expected

        await eventually(follows, timeout_s=20)

    await page.get_by_role("link", name="Settings").click()
    await page.get_by_label(re.compile("^Admin-managed")).check()
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator(".notice")).to_have_text("Saved.")
    await will_may_add(False)
    await page.get_by_label(re.compile("^Self-service")).check()
    await page.get_by_label("Largest file (MB)").fill("lots")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#e-max_media_mb")).to_contain_text("megabytes")
    await expect(page.get_by_label(re.compile("^Self-service"))).to_be_checked()  # kept
    await page.get_by_label("Largest file (MB)").fill("20")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator(".notice")).to_have_text("Saved.")
    await will_may_add(True)

    # Deactivated: refused at sign-in; reactivated: signs in again.
    await page.get_by_role("link", name="Users").click()
    await page.get_by_label("Name or email").fill("Omar")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("#users")).to_contain_text("Nobody matches")
    await page.get_by_label("Name or email").fill("Dan")
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("button", name="Reactivate Dan Departed").click()
    await expect(page.locator(".notice")).to_contain_text("Reactivated Dan Departed")
    dan = await browse("dan-back")
    await dan.sign_in_as(people.dan)
    await expect(dan.page.get_by_role("heading", level=1)).to_have_text("My credentials")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Deactivate Dan Departed").click()
    await expect(page.locator(".notice")).to_contain_text("Deactivated Dan Departed")
    await ada.shot("users")

    async def signed_out() -> bool:  # his open session ends once the services know
        await dan.page.goto(world.url + "/credentials")
        return "/sign-in" in dan.page.url

    await eventually(signed_out, timeout_s=20)


async def test_companies_groups_and_a_users_csv_sync(
    world: ConsoleWorld, browse: Any, tmp_path: Path
) -> None:
    ada = await browse("ada-directory")
    await ada.sign_in_as(world.people.admin)
    page = ada.page
    await page.goto(world.url + "/admin/companies")
    await page.get_by_label("New company").fill("Westgate")
    await page.get_by_role("button", name="Add company").click()
    await expect(page.locator(".notice")).to_have_text("Company added.")
    await page.get_by_label("Name of Westgate").fill("Westgate Haulage")
    await page.get_by_role("button", name="Rename Westgate").click()
    await expect(page.get_by_label("Name of Westgate Haulage")).to_be_visible()
    await page.get_by_label("New group").fill("Night shift")
    await page.get_by_role("button", name="Add group").click()
    night = page.locator("form.group-card", has=page.get_by_label("Group name").and_(
        page.locator("[value='Night shift']")))  # fmt: skip
    await night.get_by_label("Riley Reviewer").check()
    await night.get_by_role("button", name="Save Night shift").click()
    await expect(page.locator(".notice")).to_have_text("Group saved.")
    saved = page.locator("form.group-card", has=page.locator("[value='Night shift']"))
    await expect(saved.get_by_label("Riley Reviewer")).to_be_checked()
    await ada.shot("companies-and-groups")

    domain = world.tenant.domain
    people_csv = tmp_path / "people.csv"
    people_csv.write_text(
        "email,name,manager_email,company,groups,roles,permissions,date_format,time_zone,status\n"
        f"nora.night@{domain},Nora Night,,Westgate Haulage,Night shift,worker,,,,active\n"
        f"otto.owl@{domain},Otto Owl,nora.night@{domain},Westgate Haulage,,worker;manager,,,,\n"
        f"pia.phantom@{domain},Pia Phantom,,Atlantis Ltd,,worker,,,,\n"
    )
    await page.get_by_role("link", name="Users").first.click()
    await page.get_by_role("link", name="Sync from CSV").click()
    await page.set_input_files("#f-files", str(people_csv))
    await page.get_by_role("button", name="Sync users").click()
    await expect(page.locator("#sync-summary")).to_contain_text(
        "3 rows: 2 created, 0 updated, 0 unchanged, 1 rejected"
    )
    problem = page.locator("#sync-errors tbody tr")
    await expect(problem).to_have_count(1)
    await expect(problem.locator("td.cell-row")).to_have_text("4")  # the third user (header: 1)
    await expect(problem.locator("td.cell-column")).to_have_text("company")
    await ada.shot("users-sync")


async def test_an_assessment_and_a_workers_answers(world: ConsoleWorld, browse: Any) -> None:
    tenant, people = world.tenant, world.people
    ada = await browse("ada-assessment")
    await ada.sign_in_as(people.admin)
    page = ada.page
    await page.goto(world.url + "/admin/assessments")
    await page.get_by_label("Name").fill("Site induction")
    await page.get_by_role("button", name="Save assessment").click()
    await expect(page.locator("#e-question_1")).to_contain_text("at least one question")
    await expect(page.get_by_label("Name")).to_have_value("Site induction")
    await page.get_by_label("Question 1 (yes or no)").fill("Do you drive a company vehicle?")
    await page.get_by_label("A yes requires").first.select_option(label="Driver's licence")
    await page.get_by_role("button", name="Save assessment").click()
    card = page.locator("section", has_text="Site induction")
    await expect(card).to_contain_text("Yes adds: Driver's licence")
    await ada.shot("assessments")

    found = await tenant.get("directory", "/assessments", people.uma)
    induction = next(a for a in found["items"] if a["name"] == "Site induction")
    question = induction["questions"][0]["question_id"]
    await tenant.post("directory", f"/assessments/{induction['assessment_id']}/answers",
                      people.uma, 200, answers={question: True})  # fmt: skip
    await card.get_by_role("link", name="Workers' answers").click()
    await page.get_by_label("Worker's name or email").fill("Uma")
    await page.get_by_role("button", name="Find").click()
    answer = page.locator("section", has_text="Uma Upload")
    await expect(answer.locator(".answer")).to_have_text("Yes")
    await ada.shot("answers")


async def test_a_long_users_list_pages_and_keeps_its_search(
    world: ConsoleWorld, browse: Any, tmp_path: Path
) -> None:
    domain = world.tenant.domain
    many = tmp_path / "many.csv"
    many.write_text("email,name,roles\n" + "".join(
        f"pager.{n:02}@{domain},Pager Person {n:02},worker\n" for n in range(60)))  # fmt: skip
    ada = await browse("ada-pages")
    await ada.sign_in_as(world.people.admin)
    page = ada.page
    await page.goto(world.url + "/admin/users/sync")
    await page.set_input_files("#f-files", str(many))
    await page.get_by_role("button", name="Sync users").click()
    await expect(page.locator("#sync-summary")).to_contain_text("60 rows: 60 created")

    await page.goto(world.url + "/admin/users?q=Pager+Person")
    rows = page.locator("#users tbody tr")
    await expect(rows).to_have_count(50)
    first = set(await rows.locator("td:first-child a").all_inner_texts())
    await page.get_by_role("link", name="Next page").click()
    await expect(rows).to_have_count(10)
    rest = set(await rows.locator("td:first-child a").all_inner_texts())
    assert first | rest == {f"Pager Person {n:02}" for n in range(60)}
    await expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    await page.get_by_role("link", name="First page").click()
    await expect(rows).to_have_count(50)
    await ada.shot("users-paged")
