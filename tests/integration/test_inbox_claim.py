"""The inbox's claim against real PostgreSQL: which deliveries of a batch a consumer applies,
given what it applied before (stream positions and inbox ids)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common.delivery import Delivery
from credflow_common.inbox import claim
from credflow_contracts.envelope import Envelope
from tests.factories import ORG, credential_submitted

pytestmark = pytest.mark.integration
Pool = AsyncConnectionPool[AsyncConnection[Any]]
CONSUMER = "svc.views"


def event(stream: str | None, version: int | None, partition: int = 0) -> Delivery:
    envelope = Envelope(event=credential_submitted(), source="/credflow/submission",
                        tenant_id=ORG, aggregate_version=version, stream_id=stream)  # fmt: skip
    return Delivery(envelope, "credflow.credentials", partition, offset=0)


async def claimed(pool: Pool, *deliveries: Delivery) -> list[Delivery]:
    async with pool.connection() as conn, conn.transaction():
        return await claim(conn, CONSUMER, deliveries)


async def stream_positions(pool: Pool) -> dict[tuple[str, int], int]:
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT stream_id, partition, version FROM consumer_streams WHERE consumer = %s",
            (CONSUMER,),
        )
        return {
            (stream, partition): version for stream, partition, version in await cursor.fetchall()
        }


async def test_a_stream_applies_each_version_once_in_order(pool: Pool) -> None:
    v1, v2, v3 = event("credential-a", 1), event("credential-a", 2), event("credential-a", 3)
    assert await claimed(pool, v1, v2) == [v1, v2]
    # v2 again at a new offset (a relay repeat), v3 new, then v1 out of order after v3
    later_v2 = replace(v2, offset=7)
    assert await claimed(pool, later_v2, v3, replace(v1, offset=8)) == [v3]
    assert await stream_positions(pool) == {("credential-a", 0): 3}


async def test_inside_one_batch_a_repeat_and_an_older_version_are_dropped(pool: Pool) -> None:
    v1, v2, v3 = event("credential-b", 1), event("credential-b", 2), event("credential-b", 3)
    assert await claimed(pool, v1, v3, v1, v2, replace(v3, offset=9)) == [v1, v3]
    assert await stream_positions(pool) == {("credential-b", 0): 3}


async def test_streams_are_in_order_per_partition_only(pool: Pool) -> None:
    # one stream (an import) writes under several keys: its versions interleave across
    # partitions, each partition in order
    p0, p1 = event("import-c", 2, partition=0), event("import-c", 1, partition=1)
    assert await claimed(pool, p0, p1) == [p0, p1]
    assert await stream_positions(pool) == {("import-c", 0): 2, ("import-c", 1): 1}


async def test_a_redriven_dead_letter_applies_once_though_its_stream_moved_on(pool: Pool) -> None:
    v1, v2 = event("credential-d", 1), event("credential-d", 2)
    assert await claimed(pool, v2) == [v2]  # v1 failed and went to the dead-letter topic
    redriven = replace(v1, redriven=True, offset=12)
    assert await claimed(pool, redriven) == [redriven]
    assert await claimed(pool, replace(redriven, offset=13)) == []  # re-driven twice
    assert await stream_positions(pool) == {("credential-d", 0): 2}


async def test_events_without_a_stream_version_are_kept_apart_by_their_ids(pool: Pool) -> None:
    plain = event(None, None)
    other = event(None, None)
    assert await claimed(pool, plain, plain, other) == [plain, other]
    assert await claimed(pool, replace(plain, offset=3)) == []
    assert await stream_positions(pool) == {}
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT event_id FROM consumer_inbox WHERE consumer = %s",
                                    (CONSUMER,))  # fmt: skip
        ids: set[UUID] = {row[0] for row in await cursor.fetchall()}
    assert ids == {plain.event_id, other.event_id}
