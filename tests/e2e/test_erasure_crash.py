"""The directory as its own process, killed by a failpoint between two steps of an erasure and
started again: the erasure carries on where it stopped and completes, each step done once, with
the receipt an uninterrupted erasure gives."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest

from credflow_common.auth import PLATFORM_PERMISSION, issue_dev_token
from credflow_contracts.ids import uuid7
from tests.e2e.system import running_system
from tests.infrastructure import Infrastructure, temporary_database
from tests.polling import eventually

pytestmark = pytest.mark.e2e
ERASE = ["privacy:erase"]


def bearer(org: UUID, user: UUID, roles: list[str], permissions: list[str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_dev_token(user, org, roles, permissions)}"}


async def test_an_erasure_killed_between_steps_completes_after_a_restart(
    infra: Infrastructure,
) -> None:
    unique = uuid.uuid4().hex[:12]
    async with (
        temporary_database(infra.database_url, f"erase_{unique}") as database_url,
        running_system(
            infra,
            database_url,
            f"e{unique}.",
            ("directory",),
            CREDFLOW_FAILPOINTS="erasure.after_step@2",
        ) as system,  # fmt: skip
        httpx.AsyncClient(base_url=system.url("directory"), timeout=10) as client,
    ):
        org = uuid7()
        created = await client.post(
            "/organisations",
            json={"organisation_id": str(org), "name": "Crash Co",
                  "admin": {"email": "ada@crash.test", "name": "Ada Admin"}},
            headers=bearer(UUID(int=0), uuid7(), [], [PLATFORM_PERMISSION]),
        )  # fmt: skip
        assert created.status_code == 201, created.text
        admin = bearer(org, UUID(created.json()["admin_user_id"]), ["admin"], ["users:manage"])

        async def person(email: str, **fields: Any) -> str:
            answer = await client.post(f"/organisations/{org}/users", headers=admin,
                                       json={"email": email, "name": email, **fields})  # fmt: skip
            assert answer.status_code == 201, answer.text
            return str(answer.json()["user_id"])

        eve = await person("eve@crash.test", roles=["admin"], permissions=ERASE)
        erase = bearer(org, UUID(eve), ["admin"], ERASE)
        pat = await person("pat@crash.test")
        keys = bearer(UUID(int=0), uuid7(), [], ["platform:personal-data"])
        key = await client.get(f"/organisations/{org}/users/{pat}/data-key", headers=keys)
        assert key.status_code == 200, "the person has a data key (made at its first use)"
        asked = await client.post(f"/organisations/{org}/users/{pat}/erasure", headers=erase)
        assert asked.status_code == 202, asked.text
        erasure_id = asked.json()["erasure_id"]

        killed = system.processes["directory"]
        assert await asyncio.to_thread(killed.wait, 60) != 0, "the failpoint killed it"
        with psycopg.connect(database_url) as conn:
            steps = conn.execute("SELECT step FROM directory.erasure_steps").fetchall()
        assert [s for (s,) in steps] == ["deactivated", "key_destroyed"], "stopped half-way"

        system.env.pop("CREDFLOW_FAILPOINTS")
        system.start("directory")
        await system.ready("directory")
        done: dict[str, Any] = {}

        async def completed() -> bool:
            answer = await client.get(f"/organisations/{org}/erasures/{erasure_id}",
                                      headers=erase)  # fmt: skip
            done.update(answer.json())
            return bool(done.get("status") == "completed")

        await eventually(completed, timeout_s=30)
    assert [s["step"] for s in done["steps"]] == [
        "deactivated", "key_destroyed", "personal_fields_replaced", "announced"
    ]  # fmt: skip
    receipt = done["receipt"]
    assert receipt["destroyed"][0]["existed"] is True, "the key was destroyed before the kill"
    assert set(receipt["replaced"][0]["fields"]) >= {"name", "email"}
