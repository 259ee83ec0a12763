"""Rebuild: replay from offset 0 into a fresh schema while the live views keep serving, swap
atomically, and find every row identical to what the live consumer built."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import namedtuple_row

from credflow_common.consumer import ConsumerRunner
from credflow_common.db import schema_pool
from credflow_common.migrations import migrate
from credflow_common.settings import RuntimeSettings
from credflow_contracts.envelope import Envelope
from credflow_contracts.events.directory import PersonErased
from credflow_contracts.ids import uuid7
from credflow_contracts.topics import ALL_TOPICS
from credflow_projection.app import MIGRATIONS
from credflow_projection.projector import views_consumer
from credflow_projection.rebuild import rebuild
from tests.bench.scale import applied, produce
from tests.bench.scale_data import tenant
from tests.infrastructure import Infrastructure
from tests.integration.projection.conftest import Stack
from tests.integration.projection.world import World, build_world
from tests.integration.runtime_support import create_topics
from tests.polling import eventually

pytestmark = pytest.mark.integration

VIEW_TABLES = (
    "organisations", "people", "companies", "credential_types", "requirements",
    "assessment_questions", "assessment_answers", "credentials", "credential_versions",
    "credential_media", "audit", "review_items", "imports", "erased_people",
)  # fmt: skip


async def snapshot(database_url: str, schema: str = "projection") -> dict[str, list[Any]]:
    tables: dict[str, list[Any]] = {}
    async with await psycopg.AsyncConnection.connect(
        database_url, row_factory=namedtuple_row
    ) as conn:
        for table in VIEW_TABLES:
            cursor = await conn.execute(
                sql.SQL("SELECT * FROM {}.{} ORDER BY 1, 2").format(
                    sql.Identifier(schema), sql.Identifier(table)
                )
            )
            # In a stable order whatever the plan: rows may tie on the leading columns.
            tables[table] = sorted(await cursor.fetchall(), key=repr)
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


async def test_a_rebuild_of_the_benchmarks_tenants_equals_the_live_views(
    infra: Infrastructure, database_url: str, topic_prefix: str
) -> None:
    """The scale benchmark's generator, small (every status, second versions, managers,
    requirements by company and group, an assessment, a tenant beside it, one worker erased at
    the end), applied by the live consumer alone, then rebuilt."""
    bootstrap = infra.kafka_bootstrap_servers
    await create_topics(bootstrap, [topic_prefix + t for t in ALL_TOPICS])
    await migrate(database_url, "projection", [MIGRATIONS])
    today = datetime.now(UTC).date()
    tenants = [tenant(workers, seed, today) for workers, seed in ((300, 1), (60, 2))]

    async def applied_live(envelopes: list[Envelope]) -> dict[str, list[Any]]:
        produced = await applied(database_url) + await produce(
            bootstrap, topic_prefix, iter(envelopes)
        )
        pool = schema_pool(database_url, "projection", max_size=2)
        await pool.open()
        runner = ConsumerRunner(views_consumer(topic_prefix), pool, bootstrap)
        consuming = asyncio.create_task(runner.run())
        try:
            await eventually(lambda: has_applied(produced), timeout_s=120)
        finally:
            runner.stop()
            await consuming
            await pool.close()
        return await snapshot(database_url)

    async def has_applied(produced: int) -> bool:
        return await applied(database_url) >= produced

    before = await applied_live([e for _, ev in tenants for e in ev])
    assert len(before["credentials"]) == sum(facts.credentials for facts, _ in tenants)
    compliance = {row.compliant_until for row in before["people"]}
    assert len(compliance) > 3, "workers compliant until different days, and some not at all"

    # A worker with a titled credential is erased: the views forget what was theirs.
    org = tenants[0][0].organisation_id
    target = next(
        c.holder_id for c in before["credentials"] if c.title and c.organisation_id == org
    )
    erased = PersonErased(organisation_id=org, user_id=target, erasure_id=uuid7(),
                          erased_at=datetime.now(UTC))  # fmt: skip
    announced = Envelope(event=erased, source="/test", tenant_id=org,
                         stream_id=f"user-{target}", aggregate_version=10_000)  # fmt: skip
    live = await applied_live([announced])
    [person] = [p for p in live["people"] if p.user_id == target]
    assert (person.name, person.email) == ("Erased person", "")
    theirs = [c for c in live["credentials"] if c.holder_id == target]
    assert len(theirs) == len([c for c in before["credentials"] if c.holder_id == target])
    assert all((c.holder_name, c.holder_email, c.title) == ("Erased person", "", None)
               for c in theirs)  # fmt: skip
    ids = {c.credential_id for c in theirs}
    assert all(v.title is None for v in live["credential_versions"] if v.credential_id in ids)
    untouched = [c for c in before["credentials"] if c.holder_id != target]
    assert [c for c in live["credentials"] if c.holder_id != target] == untouched

    await rebuild(infra.settings(database_url), RuntimeSettings(topic_prefix=topic_prefix))
    assert await snapshot(database_url) == live, "every rebuilt row equals the live row"
