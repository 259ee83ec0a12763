"""`make run`'s demo data: hundreds of workers and every status in the views, loaded once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx

from credflow.demo import create_demo
from credflow.demo_data import WORKERS, DemoUrls, load_demo_data
from tests.e2e.journeys.conftest import Journeys
from tests.polling import eventually

STATUSES = {"verified", "submitted", "pending", "not_accepted", "expired", "revoked", "suspended"}


async def test_the_demo_shows_every_status_to_a_client_viewer(journeys: Journeys) -> None:
    system = journeys.system
    urls = DemoUrls(*(system.url(name) for name in ("directory", "importer", "review",
                                                     "submission")))  # fmt: skip
    today = datetime.now(UTC).date()
    demo = await asyncio.to_thread(create_demo, urls.directory)
    loaded = await asyncio.to_thread(load_demo_data, urls, demo, today, lambda _: None)
    assert loaded.loaded_now
    assert loaded.credentials > 2 * WORKERS
    again = await asyncio.to_thread(load_demo_data, urls, demo, today, lambda _: None)
    assert not again.loaded_now, "a second `make run` loads nothing twice"

    viewer = {"Authorization": f"Bearer {demo.token('client_viewer')}"}
    views = f"{system.url('projection')}/organisations/{demo.organisation_id}"
    async with httpx.AsyncClient(timeout=30) as client:

        async def everything() -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = []
            cursor = None
            while True:
                params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
                page = (await client.get(f"{views}/credentials", headers=viewer,
                                         params=params)).json()  # fmt: skip
                rows += page["items"]
                if not (cursor := page["next_cursor"]):
                    return rows

        seen: list[dict[str, Any]] = []

        async def every_status_shown() -> bool:
            seen[:] = await everything()
            statuses = {row["status"] for row in seen}
            return len(seen) == loaded.credentials and statuses >= STATUSES

        await eventually(every_status_shown, timeout_s=120)
        assert any(row["expiring_soon"] for row in seen)
        companies = (await client.get(f"{views}/companies", headers=viewer)).json()["items"]
        assert sum(c["workers"] for c in companies) >= WORKERS
        assert all(c["compliant"] and c["not_compliant"] for c in companies), (
            "each company shows both compliant and non-compliant workers on the dashboard"
        )
        figures = (await client.get(f"{views}/summary", headers=viewer)).json()
        expiring = [figures["expiring"][days] for days in ("30", "60", "90")]
        assert 0 < expiring[0] < expiring[1] < expiring[2], "each window adds credentials"
        assert figures["queue"]["open"] > 0, "reviewers find items waiting in their queue"
        page = (
            await client.get(
                f"{views}/companies/{companies[0]['company_id']}/workers", headers=viewer,
                params={"limit": 100},
            )
        ).json()  # fmt: skip
        assert len(page["workers"]) == 100
        assert page["next_cursor"]
        shown = {row["status"] for worker in page["workers"] for row in worker["credentials"]}
        assert "required" in shown
