"""The event store against real PostgreSQL: appends, optimistic concurrency, outbox, idempotency."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common import idempotency
from credflow_common.errors import ConcurrencyError, IdempotencyKeyReusedError
from credflow_common.eventstore import Append, EventStore, Metadata
from credflow_common.migrations import migrate
from credflow_contracts.events.credentials import CredentialSubmitted
from credflow_contracts.ids import uuid7
from tests.factories import ORG, credential_submitted

pytestmark = pytest.mark.integration
Pool = AsyncConnectionPool[AsyncConnection[Any]]
STORE = EventStore("svc", "/credflow/test")
META = Metadata(tenant_id=ORG, correlation_id=uuid7())


async def count(pool: Pool, table: str) -> int:
    async with pool.connection() as conn:
        cursor = await conn.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
        row = await cursor.fetchone()
        return int(row[0]) if row else 0


async def test_append_then_load_returns_the_events_in_order(pool: Pool) -> None:
    first, second = credential_submitted(), credential_submitted()
    async with pool.connection() as conn, conn.transaction():
        recorded = await STORE.append(conn, "credential-1", 0, [first, second], META)
    assert [r.version for r in recorded] == [1, 2]
    async with pool.connection() as conn:
        loaded = await STORE.load(conn, "credential-1")
        assert [r.event for r in loaded] == [first, second]
        assert [r.event_id for r in loaded] == [r.event_id for r in recorded]
        assert loaded[0].correlation_id == META.correlation_id
        assert await STORE.current_version(conn, "credential-1") == 2
        assert [r.version for r in await STORE.load(conn, "credential-1", after_version=1)] == [2]


async def append_then_fail(conn: AsyncConnection[Any]) -> None:
    async with conn.transaction():
        await STORE.append(conn, "credential-b", 0, [credential_submitted()], META)
        raise RuntimeError("handler blew up")


async def test_events_and_outbox_rows_commit_or_roll_back_together(pool: Pool) -> None:
    async with pool.connection() as conn:
        async with conn.transaction():
            await STORE.append(conn, "credential-a", 0, [credential_submitted()], META)
        with pytest.raises(RuntimeError, match="handler blew up"):
            await append_then_fail(conn)
    assert await count(pool, "events") == 1
    assert await count(pool, "outbox") == 1
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT topic, headers FROM outbox")
        topic, headers = (await cursor.fetchall())[0]
    assert topic == "credflow.credentials"
    assert ["ce_type", "credflow.credential.submitted.v2"] in headers
    assert ["ce_aggregateversion", "1"] in headers


async def test_two_concurrent_appends_at_the_same_version_exactly_one_wins(pool: Pool) -> None:
    async with pool.connection() as conn, conn.transaction():
        await STORE.append(conn, "credential-race", 0, [credential_submitted()], META)

    both_inserted = asyncio.Barrier(2)

    async def writer(note: str) -> str:
        async with pool.connection() as conn:
            try:
                async with conn.transaction():
                    event = credential_submitted(notes=note)
                    append = asyncio.ensure_future(
                        STORE.append(conn, "credential-race", 1, [event], META)
                    )
                    await both_inserted.wait()
                    await append
                    await asyncio.sleep(0.05)  # hold the transaction open while the other waits
                return "won"
            except ConcurrencyError as exc:
                return f"conflict on {exc.stream_id} at {exc.expected_version}"

    outcomes = await asyncio.gather(writer("left"), writer("right"))
    assert sorted(outcomes) == ["conflict on credential-race at 1", "won"]
    async with pool.connection() as conn:
        events = await STORE.load(conn, "credential-race")
    assert [e.version for e in events] == [1, 2]
    assert await count(pool, "outbox") == 2, "the loser wrote no outbox row"


async def test_appending_at_a_stale_version_names_the_actual_version(pool: Pool) -> None:
    async with pool.connection() as conn, conn.transaction():
        await STORE.append(conn, "credential-s", 0, [credential_submitted()] * 3, META)
    async with pool.connection() as conn:
        for expected in (1, 5):
            with pytest.raises(ConcurrencyError) as caught:
                async with conn.transaction():
                    await STORE.append(
                        conn, "credential-s", expected, [credential_submitted()], META
                    )
            assert caught.value.actual_version == 3
            assert f"not the expected {expected}" in str(caught.value)


async def test_appending_to_many_streams_in_one_statement_keeps_each_streams_rules(
    pool: Pool,
) -> None:
    async with pool.connection() as conn, conn.transaction():
        await STORE.append(conn, "credential-m0", 0, [credential_submitted()], META)
        recorded = await STORE.append_many(conn, [
            Append("credential-m1", 0, [credential_submitted(), credential_submitted()], META),
            Append("credential-m0", 1, [credential_submitted()], META),
            Append("credential-m2", 0, [], META),
        ])  # fmt: skip
    assert [[r.version for r in stream] for stream in recorded] == [[1, 2], [2], []]
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT key FROM outbox ORDER BY id")
        keys = [bytes(row[0]) for row in await cursor.fetchall()]
    assert len(keys) == 4, "one outbox row per event, in event order"
    async with pool.connection() as conn:
        with pytest.raises(ConcurrencyError) as caught:
            async with conn.transaction():
                await STORE.append_many(conn, [
                    Append("credential-m3", 0, [credential_submitted()], META),
                    Append("credential-m1", 1, [credential_submitted()], META),  # it is at 2
                ])  # fmt: skip
        assert (caught.value.stream_id, caught.value.actual_version) == ("credential-m1", 2)
        assert await STORE.current_version(conn, "credential-m3") == 0, "rolled back with it"
    assert await count(pool, "outbox") == 4


ANN, BEN = idempotency.Caller(ORG, uuid7()), idempotency.Caller(ORG, uuid7())


async def submit_once(
    pool: Pool, key: str, payload: dict[str, str], caller: idempotency.Caller = ANN
) -> dict[str, Any]:
    """A command handler written the way services write them."""
    async with pool.connection() as conn, conn.transaction():
        earlier = await idempotency.claim(conn, caller, key, idempotency.fingerprint(payload))
        if earlier is not None:
            return earlier
        event: CredentialSubmitted = credential_submitted(notes=payload["notes"])
        stream = f"credential-{event.credential_id}"
        recorded = await STORE.append(conn, stream, 0, [event], META)
        outcome = {
            "credential_id": str(event.credential_id),
            "position": str(recorded[-1].event_id),
        }
        await idempotency.record(conn, caller, key, outcome)
        return outcome


async def test_a_repeated_idempotency_key_returns_the_first_outcome_and_writes_nothing(
    pool: Pool,
) -> None:
    first = await submit_once(pool, "key-1", {"notes": "hello"})
    again = await submit_once(pool, "key-1", {"notes": "hello"})
    assert again == first
    assert await count(pool, "events") == 1

    with pytest.raises(IdempotencyKeyReusedError, match="key-1"):
        await submit_once(pool, "key-1", {"notes": "a different command"})
    assert await count(pool, "events") == 1


async def test_an_idempotency_key_belongs_to_its_caller(pool: Pool) -> None:
    """Another person of the same organisation reusing a key runs their own command and never
    sees the first person's result."""
    first = await submit_once(pool, "shared-key", {"notes": "hello"}, ANN)
    other = await submit_once(pool, "shared-key", {"notes": "hello"}, BEN)
    assert other["credential_id"] != first["credential_id"]
    assert await count(pool, "events") == 2
    assert await submit_once(pool, "shared-key", {"notes": "hello"}, BEN) == other


async def test_concurrent_requests_with_one_idempotency_key_run_the_command_once(
    pool: Pool,
) -> None:
    outcomes = await asyncio.gather(*(submit_once(pool, "key-2", {"notes": "x"}) for _ in range(5)))
    assert len({o["credential_id"] for o in outcomes}) == 1
    assert await count(pool, "events") == 1


async def test_migrations_apply_once(database_url: str, pool: Pool) -> None:
    assert await migrate(database_url, "svc") == []
    assert await migrate(database_url, "other_service") == [
        "0001.runtime-event-store",
        "0002.runtime-outbox-notify",
        "0003.runtime-idempotency-per-caller",
        "0004.runtime-stream-positions",
    ]
