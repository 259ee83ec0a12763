"""Rebuild: replay from offset 0 into a fresh schema while the live views keep serving, swap
atomically, and find every row identical to what the live consumer built."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from credflow_projection.rebuild import rebuild
from tests.integration.projection.conftest import Stack
from tests.integration.projection.world import World, build_world

pytestmark = pytest.mark.integration

VIEW_TABLES = (
    "organisations", "people", "companies", "credential_types", "requirements",
    "assessment_questions", "assessment_answers", "credentials", "credential_versions",
    "credential_media", "audit", "review_items", "imports",
)  # fmt: skip


async def snapshot(database_url: str, schema: str = "projection") -> dict[str, list[Any]]:
    tables: dict[str, list[Any]] = {}
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        for table in VIEW_TABLES:
            cursor = await conn.execute(
                sql.SQL("SELECT * FROM {}.{} ORDER BY 1, 2").format(
                    sql.Identifier(schema), sql.Identifier(table)
                )
            )
            tables[table] = await cursor.fetchall()
    return tables


async def indexes(database_url: str) -> set[tuple[str, str]]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'projection'"
        )
        return {(name, definition) for name, definition in await cursor.fetchall()}


async def schemas(database_url: str) -> set[str]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'proj%'")
        return {row[0] for row in await cursor.fetchall()}


async def open_items_settled(stack: Stack, world: World) -> None:
    """Ann's forklift has its review item in the views (the last event the world causes)."""

    async def listed() -> bool:
        page = await stack.get(world.org, "/review-queue", world.as_("mia"))
        return len(page["items"]) == 1

    for _ in range(600):
        if await listed():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the review item never reached the views")


async def test_rebuilt_views_are_identical_and_the_live_ones_keep_serving(
    stack: Stack, unique: str
) -> None:
    world = await build_world(stack, unique)
    await open_items_settled(stack, world)
    database_url = stack.infra.database_url
    live = await snapshot(database_url)
    live_indexes = await indexes(database_url)
    assert len(live["credentials"]) == 7
    assert len(live["audit"]) > 20

    answers: list[int] = []
    stop = asyncio.Event()

    async def keep_reading() -> None:
        while not stop.is_set():
            page = await stack.get(world.org, "/credentials", world.org.admin, limit=100)
            answers.append(len(page["items"]))
            await asyncio.sleep(0.01)

    reader = asyncio.create_task(keep_reading())
    applied: list[int] = []
    report = await rebuild(stack.infra, stack.runtime, on_applied=applied.append)
    stop.set()
    await reader
    assert report.events_total > 0
    assert sum(applied) == report.events_applied >= report.events_total
    assert answers, "the live views answered during the rebuild"
    assert set(answers) == {7}, "every answer during the rebuild was complete"
    assert await schemas(database_url) == {"projection"}, "swapped in; old schema dropped"
    assert await snapshot(database_url) == live, "every rebuilt row equals the live row"
    assert await indexes(database_url) == live_indexes, "the lookup indexes were built again"

    # The live service goes on applying into the swapped-in schema, exactly once.
    renewed = await stack.services.submission.post(
        f"/organisations/{world.org.id}/credentials/{world.credentials['sam.licence']}/versions",
        json={"issued_on": str(world.today), "expires_on": str(world.today + timedelta(days=99))},
        headers=world.as_("sam"),
    )
    assert renewed.status_code == 201, renewed.text
    response = await stack.views.get(
        f"/organisations/{world.org.id}/credentials/{world.credentials['sam.licence']}",
        params={"min_position": renewed.json()["position"]},
        headers=world.org.admin,
    )
    assert response.headers["Projection-Caught-Up"] == "true"
    assert [v["version_number"] for v in response.json()["versions"]] == [2, 1]


async def test_the_rebuild_command_shows_progress_and_swaps(stack: Stack, unique: str) -> None:
    world = await build_world(stack, unique)
    await open_items_settled(stack, world)
    live = await snapshot(stack.infra.database_url)
    env = {
        **os.environ,
        "DATABASE_URL": stack.infra.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": stack.infra.kafka_bootstrap_servers,
        "CREDFLOW_TOPIC_PREFIX": stack.runtime.topic_prefix,
        "COLUMNS": "120",
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "credflow", "projection", "rebuild", "--keep-retired"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "replaying" in done.stdout
    assert "rebuilt the views from" in done.stdout
    assert await schemas(stack.infra.database_url) == {"projection", "projection_retired"}
    assert await snapshot(stack.infra.database_url) == live
    assert await snapshot(stack.infra.database_url, "projection_retired") == live
