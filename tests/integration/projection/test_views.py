"""The projection's views over HTTP, fed from Kafka by the other services' real events."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from credflow_common.spreadsheets import safe_cell
from credflow_projection.routes import exports
from tests.integration.projection.conftest import Stack
from tests.integration.projection.world import World, build_world
from tests.integration.review.conftest import as_user
from tests.polling import eventually

pytestmark = pytest.mark.integration


def by_key(world: World, items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    keys = {credential_id: key for key, credential_id in world.credentials.items()}
    return {keys[item["credential_id"]]: item for item in items}


async def all_pages(stack: Stack, world: World, as_: dict[str, str], **params: Any) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        page = await stack.get(
            world.org,
            "/credentials",
            as_,
            limit=2,
            **params,
            **({"cursor": cursor} if cursor else {}),
        )
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_worker_credentials_statuses_filters_search_and_pages(
    stack: Stack, unique: str
) -> None:
    world = await build_world(stack, unique)
    admin = world.org.admin
    statuses = {
        k: v["status"] for k, v in by_key(world, await all_pages(stack, world, admin)).items()
    }
    assert statuses == {
        "wes.licence": "verified",
        "wes.induction": "submitted",
        "ann.licence": "expired",
        "ann.induction": "revoked",
        "ann.forklift": "pending",
        "sam.licence": "not_accepted",
        "sam.forklift": "suspended",
    }

    async def keys(**params: Any) -> set[str]:
        return set(by_key(world, await all_pages(stack, world, admin, **params)))

    assert await keys(status="expired") == {"ann.licence"}
    assert await keys(status=["pending", "suspended"]) == {"ann.forklift", "sam.forklift"}
    assert await keys(credential_type_id=world.types["forklift"]) == {
        "ann.forklift",
        "sam.forklift",
    }
    assert await keys(company_id=world.companies["South"]) == {"sam.licence", "sam.forklift"}
    assert await keys(worker_id=world.people["wes"]["user_id"]) == {"wes.licence", "wes.induction"}
    assert await keys(expiring_within_days=30) == {"wes.licence"}
    assert await keys(expiring_within_days=5) == set()
    assert await keys(q="lic-sam") == {"sam.licence"}, "certification number, any case"
    assert await keys(q="roads auth") == {"wes.licence"}, "issuer name"
    assert await keys(q="ann") == {"ann.licence", "ann.induction", "ann.forklift"}
    assert await keys(q="100%") == set(), "LIKE wildcards are searched literally"

    first = await stack.get(world.org, "/credentials", admin, limit=3)
    wes = by_key(world, first["items"])
    listed = await all_pages(stack, world, admin)
    assert len(listed) == len({i["credential_id"] for i in listed}) == 7, "no row twice"
    names = [i["holder_name"] for i in listed]
    assert names == sorted(names, key=str.lower)
    assert first["next_cursor"] is not None
    assert len(first["items"]) == 3
    assert all(item["expiring_soon"] is False for key, item in wes.items() if key != "wes.licence")

    licence = by_key(world, listed)["wes.licence"]
    assert licence["expiring_soon"] is True
    assert licence["company_name"] == "North"
    assert licence["credential_type_name"] == "Licence"
    assert licence["certification_number"] == "LIC-WES-1"

    bad = await stack.views.get(
        f"/organisations/{world.org.id}/credentials", params={"status": "lost"}, headers=admin
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "query.status"
    virtual = await stack.views.get(
        f"/organisations/{world.org.id}/credentials", params={"status": "required"},
        headers=admin,
    )  # fmt: skip
    assert virtual.status_code == 422
    assert "worker profile and the company view" in virtual.json()["errors"][0]["message"]
    bad = await stack.views.get(
        f"/organisations/{world.org.id}/credentials", params={"cursor": "nonsense"}, headers=admin
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "query.cursor"


async def test_expiry_follows_the_clock_without_any_event(stack: Stack, unique: str) -> None:
    world = await build_world(stack, unique)
    wes = world.people["wes"]["user_id"]
    profile = await stack.get(world.org, f"/workers/{wes}", world.org.admin)
    assert profile["compliant"] is True

    stack.clock.offset = timedelta(days=11)  # the licence expired yesterday
    items = by_key(world, (await stack.get(world.org, "/credentials", world.org.admin))["items"])
    assert items["wes.licence"]["status"] == "expired"
    assert items["wes.licence"]["expiring_soon"] is False
    assert items["wes.induction"]["status"] == "submitted", "no expiry date: never expires"
    profile = await stack.get(world.org, f"/workers/{wes}", world.org.admin)
    assert profile["compliant"] is False
    assert {r["credential_type_name"]: r["state"] for r in profile["requirements"]} == {
        "Induction": "met",
        "Licence": "not_met",
    }


async def test_companies_workers_profiles_and_required_rows(stack: Stack, unique: str) -> None:
    world = await build_world(stack, unique)
    viewer = world.as_("viewer")
    companies = {c["name"]: c for c in (await stack.get(world.org, "/companies", viewer))["items"]}
    assert {
        n: (c["workers"], c["compliant"], c["not_compliant"]) for n, c in companies.items()
    } == {
        "North": (2, 1, 1),  # Wes is compliant; Ann's licence expired and induction revoked
        "South": (1, 0, 1),  # Sam holds no induction
    }

    south = await stack.get(world.org, f"/companies/{world.companies['South']}/workers", viewer)
    [sam] = south["workers"]
    assert sam["name"] == "=HYPERLINK(1)"
    assert sam["compliant"] is False
    rows = {(r["credential_type_name"], r["status"]) for r in sam["credentials"]}
    assert rows == {
        ("Licence", "not_accepted"),
        ("Forklift", "suspended"),
        ("Induction", "required"),
    }

    workers = await stack.get(world.org, "/workers", viewer, company_id=world.companies["North"])
    assert {(w["name"], w["compliant"]) for w in workers["items"]} == {
        ("Wes", True),
        ("Ann", False),
    }
    ann = await stack.get(world.org, f"/workers/{world.people['ann']['user_id']}", viewer)
    assert {r["credential_type_name"]: r["state"] for r in ann["requirements"]} == {
        "Induction": "not_met",
        "Licence": "not_met",
    }
    assert {r["status"] for r in ann["credentials"]} == {"expired", "revoked", "pending"}


async def test_reviewer_queue_oldest_first_with_claims(stack: Stack, unique: str) -> None:
    world = await build_world(stack, unique)
    mia = world.as_("mia")
    later = await stack.services.submit(world.org, world.as_("wes"), world.types["forklift"])

    async def queue() -> list[dict[str, Any]]:
        return list((await stack.get(world.org, "/review-queue", mia))["items"])

    async def both_listed() -> bool:
        return len(await queue()) == 2

    await eventually(both_listed, timeout_s=60)
    first, second = await queue()
    assert first["credential_id"] == world.credentials["ann.forklift"], "oldest first"
    assert second["credential_id"] == later["credential_id"]
    assert first["claimed_by"] is None
    assert first["holder_name"] == "Ann"
    assert (first["company_id"], first["company_name"]) == (world.companies["North"], "North")
    for chosen, expected in (
        ({"company_id": world.companies["North"]}, 2),
        ({"company_id": world.companies["South"]}, 0),
        ({"credential_type_id": world.types["forklift"]}, 2),
        ({"credential_type_id": world.types["licence"]}, 0),
        ({"import_id": str(uuid4())}, 0),
    ):
        filtered = await stack.get(world.org, "/review-queue", mia, 200, **chosen)
        assert len(filtered["items"]) == expected, chosen

    url = f"/organisations/{world.org.id}/reviews/{first['review_id']}/claim"
    claimed = await stack.services.review.post(url, headers=mia)
    assert claimed.status_code == 200, claimed.text
    position = claimed.json()["position"]
    after = await stack.views.get(
        f"/organisations/{world.org.id}/review-queue",
        params={"min_position": position},
        headers=mia,
    )
    assert after.headers["Projection-Caught-Up"] == "true"
    assert after.json()["items"][0]["claimed_by_me"] is True
    assert await stack.get(world.org, "/review-queue", world.as_("wes")) == {
        "items": [],
        "next_cursor": None,
    }, "a worker has no queue"


async def test_credential_detail_versions_media_reviews_and_audit(
    stack: Stack, unique: str
) -> None:
    world = await build_world(stack, unique)
    credential_id = world.credentials["wes.licence"]
    renewed = await stack.services.submission.post(
        f"/organisations/{world.org.id}/credentials/{credential_id}/versions",
        json={"issued_on": str(world.today), "expires_on": str(world.today + timedelta(days=900))},
        headers=world.as_("wes"),
    )
    assert renewed.status_code == 201, renewed.text
    detail = await stack.get(
        world.org,
        f"/credentials/{credential_id}",
        world.as_("wes"),
        min_position=renewed.json()["position"],
    )
    assert detail["status"] == "pending"
    assert detail["version_number"] == 2
    v2, v1 = detail["versions"]
    assert (v2["version_number"], v2["review"]) == (2, "pending")
    assert (v1["version_number"], v1["review"]) == (1, "verified")
    assert v1["review_comment"] == "Checked the registry."
    assert [m["file_name"] for m in v1["media"]] == ["licence.png"]
    assert v2["media"] == []
    assert [r["state"] for r in v1["reviews"]] == ["validated"]
    actions = [(a["action"], a["actor_name"]) for a in detail["audit"]]
    assert actions[:2] == [("submitted", "Wes"), ("review_requested", None)]
    assert ("validated", "Mia") in actions
    assert ("media_attached", "Wes") in actions
    assert actions.index(("version_added", "Wes")) > actions.index(("validated", "Mia"))

    async def v2_under_review() -> bool:
        detail = await stack.get(world.org, f"/credentials/{credential_id}", world.org.admin)
        return [r["state"] for r in detail["versions"][0]["reviews"]] == ["open"]

    await eventually(v2_under_review, timeout_s=60)


async def test_csv_export_is_streamed_and_safe_against_formulas(stack: Stack, unique: str) -> None:
    world = await build_world(stack, unique)
    response = await stack.views.get(
        f"/organisations/{world.org.id}/credentials.csv", headers=world.as_("viewer")
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 7
    sam = [r for r in rows if r["holder_email"].startswith("sam@")]
    assert {r["holder_name"] for r in sam} == {"'=HYPERLINK(1)"}, "formula defused"
    assert {r["status"] for r in rows} >= {"verified", "expired", "not_accepted", "suspended"}
    filtered = await stack.views.get(
        f"/organisations/{world.org.id}/credentials.csv",
        params={"status": "expired"},
        headers=world.org.admin,
    )
    assert [r["credential_id"] for r in csv.DictReader(io.StringIO(filtered.text))] == [
        world.credentials["ann.licence"]
    ]


async def test_workers_and_companies_download_as_the_lists_show_them(
    stack: Stack, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "WORKERS_PER_READ", 2)  # several reads for a few workers
    world = await build_world(stack, unique)
    org, viewer = world.org, world.as_("viewer")

    async def download(path: str, as_: dict[str, str], **params: Any) -> list[dict[str, str]]:
        response = await stack.views.get(f"/organisations/{org.id}{path}", params=params,
                                         headers=as_)  # fmt: skip
        assert response.status_code == 200, response.text
        assert response.headers["content-disposition"].startswith("attachment")
        return list(csv.DictReader(io.StringIO(response.text)))

    listed = (await stack.get(org, "/workers", viewer, limit=500))["items"]
    rows = await download("/workers.csv", viewer)
    assert [(r["user_id"], r["name"], r["compliant"]) for r in rows] == [
        (w["user_id"], safe_cell(w["name"]), str(w["compliant"])) for w in listed
    ], "every worker once, in the list's order, with the list's compliance"
    assert {r["name"] for r in rows} >= {"'=HYPERLINK(1)"}, "formula defused"
    for row in rows:
        profile = await stack.get(org, f"/workers/{row['user_id']}", viewer)
        unmet = [r["credential_type_name"] for r in profile["requirements"]
                 if r["state"] != "met"]  # fmt: skip
        assert row["missing"] == "; ".join(unmet)
        assert int(row["requirements"]) - int(row["requirements_met"]) == len(unmet)
    north = await download("/workers.csv", viewer, company_id=world.companies["North"])
    assert {r["company_name"] for r in north} == {"North"}

    companies = (await stack.get(org, "/companies", viewer))["items"]
    assert [
        (r["company_id"], r["workers"], r["compliant"], r["not_compliant"])
        for r in await download("/companies.csv", viewer)
    ] == [(c["company_id"], str(c["workers"]), str(c["compliant"]), str(c["not_compliant"]))
          for c in companies]  # fmt: skip

    wes = world.as_("wes")
    assert [r["user_id"] for r in await download("/workers.csv", wes)] == [
        world.people["wes"]["user_id"]
    ], "a worker downloads only themselves"
    refused = await stack.views.get(f"/organisations/{org.id}/companies.csv", headers=wes)
    assert refused.status_code == 403


async def test_a_worker_sees_only_their_own_and_a_client_viewer_only_reads(
    stack: Stack, unique: str
) -> None:
    world = await build_world(stack, unique)
    org, wes = world.org, world.as_("wes")
    mine = {i["credential_id"] for i in (await stack.get(org, "/credentials", wes))["items"]}
    assert mine == {world.credentials["wes.licence"], world.credentials["wes.induction"]}
    others = await stack.get(org, "/credentials", wes, worker_id=world.people["ann"]["user_id"])
    assert others["items"] == []
    export = await stack.views.get(f"/organisations/{org.id}/credentials.csv", headers=wes)
    assert len(list(csv.DictReader(io.StringIO(export.text)))) == 2
    await stack.get(org, f"/credentials/{world.credentials['ann.licence']}", wes, expect=404)
    await stack.get(org, f"/workers/{world.people['ann']['user_id']}", wes, expect=404)
    await stack.get(org, f"/workers/{world.people['wes']['user_id']}", wes)
    await stack.get(org, "/companies", wes, expect=403)
    await stack.get(org, f"/companies/{world.companies['North']}/workers", wes, expect=403)

    mia = await stack.get(org, "/credentials", world.as_("mia"))
    assert len(mia["items"]) == 7, "a manager sees the people they manage"

    viewer = world.as_("viewer")
    assert len((await stack.get(org, "/credentials", viewer))["items"]) == 7
    await stack.get(org, f"/credentials/{world.credentials['ann.licence']}", viewer)
    refused = await stack.services.submission.post(
        f"/organisations/{org.id}/credentials",
        json={
            "credential_type_id": world.types["forklift"],
            "issued_on": str(world.today),
            "holder_id": world.people["wes"]["user_id"],
        },
        headers=viewer,
    )
    assert refused.status_code == 403, "client viewers only read"
    revoke = await stack.services.submission.post(
        f"/organisations/{org.id}/credentials/{world.credentials['wes.licence']}/revoke",
        json={"reason": "no"},
        headers=viewer,
    )
    assert revoke.status_code == 403

    other = await stack.services.org(f"Other {unique}")
    for path in (
        "/credentials",
        "/companies",
        "/review-queue",
        "/credentials.csv",
        "/workers.csv",
        "/companies.csv",
        f"/credentials/{world.credentials['wes.licence']}",
    ):
        response = await stack.views.get(f"/organisations/{org.id}{path}", headers=other.admin)
        assert response.status_code == 404, path
    intruder = as_user(other, {"user_id": str(other.admin_id), "roles": ["admin"]})
    response = await stack.views.get(f"/organisations/{org.id}/workers", headers=intruder)
    assert response.status_code == 404


async def test_forged_cursors_and_unstorable_text_are_422_naming_the_parameter(
    stack: Stack, unique: str
) -> None:
    world = await build_world(stack, unique)
    org, admin = world.org, world.org.admin
    company = world.companies["North"]
    forged = {
        "/credentials": ["a", "b", "x"],
        "/workers": ["a", "x"],
        "/review-queue": ["not a time", "x"],
        f"/companies/{company}/workers": ["a", "x"],
    }
    for path, values in forged.items():
        cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode()
        refused = await stack.get(org, path, admin, expect=422, cursor=cursor)
        assert [e["path"] for e in refused["errors"]] == ["query.cursor"], path
    for path in ("/credentials", "/workers", "/credentials.csv"):
        refused = await stack.get(org, path, admin, expect=422, q="a\x00b")
        assert [e["path"] for e in refused["errors"]] == ["query.q"], path
    page = await stack.get(org, "/credentials", admin, limit=2)
    assert len(page["items"]) == 2, "the views still answer"


async def test_the_summary_counts_what_the_lists_show(stack: Stack, unique: str) -> None:
    """Each figure of the dashboard's summary equals the length of the list it links to."""
    world = await build_world(stack, unique)
    admin = world.org.admin

    async def listed(**params: Any) -> int:
        rows = await stack.get(world.org, "/credentials", admin, 200, limit=500, **params)
        return len(rows["items"])

    figures = await stack.get(world.org, "/summary", admin)
    assert sum(figures["statuses"].values()) == await listed() > 0
    for status, count in figures["statuses"].items():
        assert count == await listed(status=status), status
    for days, count in figures["expiring"].items():
        assert count == await listed(expiring_within_days=int(days)), days
    north = await stack.get(world.org, "/summary", admin, 200,
                            company_id=world.companies["North"])  # fmt: skip
    assert sum(north["statuses"].values()) == await listed(company_id=world.companies["North"])
    queue = await stack.get(world.org, "/review-queue", admin, 200, limit=500)
    assert figures["queue"]["open"] >= len(queue["items"])
    wes = await stack.get(world.org, "/summary", world.as_("wes"))
    assert sum(wes["statuses"].values()) == len(
        (await stack.get(world.org, "/credentials", world.as_("wes")))["items"]
    ), "a worker's summary counts only their own"


async def test_workers_filter_by_compliance_at_the_source(stack: Stack, unique: str) -> None:
    world = await build_world(stack, unique)
    org, viewer = world.org, world.as_("viewer")
    everyone = (await stack.get(org, "/workers", viewer, limit=500))["items"]
    assert {w["compliant"] for w in everyone} == {True, False}
    for wanted in (True, False):
        listed = await stack.get(org, "/workers", viewer, compliant=str(wanted).lower())
        assert [w["user_id"] for w in listed["items"]] == [
            w["user_id"] for w in everyone if w["compliant"] is wanted
        ]
        north = await stack.get(org, f"/companies/{world.companies['North']}/workers", viewer,
                                compliant=str(wanted).lower())  # fmt: skip
        assert north["workers"]
        assert {w["compliant"] for w in north["workers"]} == {wanted}
        exported = await stack.views.get(f"/organisations/{org.id}/workers.csv", headers=viewer,
                                         params={"compliant": str(wanted).lower()})  # fmt: skip
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [r["user_id"] for r in rows] == [w["user_id"] for w in listed["items"]]
    bad = await stack.views.get(f"/organisations/{org.id}/workers", headers=viewer,
                                params={"compliant": "perhaps"})  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "query.compliant"
