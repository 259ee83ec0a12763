"""People's data keys (ADR 0017): one per person, handed out only to a caller holding
`platform:personal-data`, the same each time, and stored only wrapped."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from credflow.cli import app
from credflow_common.auth import PERSONAL_DATA_PERMISSION
from credflow_common.keyring import LocalKeyring
from credflow_common.migrations import migrate
from credflow_contracts.ids import uuid7
from credflow_contracts.sealed import seal, unseal
from credflow_directory.app import DEFINITION
from credflow_directory.person_keys import PersonKeys, key_ids_in_use
from tests.integration.directory.conftest import DirectoryApi, token


async def test_a_person_has_one_data_key_for_the_permitted_only(
    directory: DirectoryApi, database_url: str
) -> None:
    org = await directory.create_org("Keyed Co")
    pat = await directory.create_user(org, "pat@keyed.test")
    keys = token(uuid7(), uuid7(), permissions=[PERSONAL_DATA_PERMISSION])
    path = org.url(f"/users/{pat['user_id']}/data-key")

    first = await directory.client.get(path, headers=keys)
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    again = await directory.client.get(path, headers=keys)
    assert again.json()["data_key"] == first.json()["data_key"], "one key per person"
    raw = first.json()["data_key"]
    data_key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    assert len(data_key) == 32
    event = uuid7()
    sealed = seal(data_key, pat["user_id"], "Pat", event, "name")
    assert unseal(data_key, sealed, event, "name") == "Pat"

    other = await directory.create_user(org, "sam@keyed.test")
    theirs = await directory.client.get(org.url(f"/users/{other['user_id']}/data-key"),
                                        headers=keys)  # fmt: skip
    assert theirs.json()["data_key"] != raw

    refused = await directory.client.get(path, headers=org.admin)
    assert refused.status_code == 403, "an admin of the organisation is not a key holder"
    unknown = await directory.client.get(org.url(f"/users/{uuid7()}/data-key"), headers=keys)
    assert unknown.status_code == 404

    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute("SELECT wrapped FROM directory.person_keys")
        stored = [row[0] for row in await cursor.fetchall()]
    assert len(stored) == 2
    assert all(raw not in wrapped and data_key.hex() not in wrapped for wrapped in stored)


async def test_rotation_rewraps_every_data_key_and_retires_the_old_key(
    database_url: str, tmp_path: Path
) -> None:
    await migrate(database_url, "directory", DEFINITION.migrations)
    keyring_file = tmp_path / "keyring.json"
    before = LocalKeyring.load(keyring_file)
    keys = PersonKeys(before)
    org, people = uuid7(), [uuid7() for _ in range(1203)]  # more than two batches
    async with await psycopg.AsyncConnection.connect(
        database_url, options="-c search_path=directory"
    ) as conn:
        data_keys = {p: await keys.data_key(conn, org, p) for p in people}
    env = {"CREDFLOW_KEYRING_FILE": str(keyring_file), "DATABASE_URL": database_url}

    # The command runs its own event loop: off this test's.
    rotated = await asyncio.to_thread(CliRunner().invoke, app, ["keys", "rotate"], env=env)
    assert rotated.exit_code == 0, rotated.output
    assert "1203 data key(s) rewrapped" in rotated.output
    after = LocalKeyring.load(keyring_file)
    assert after.current != before.current
    assert await key_ids_in_use(database_url) == {after.current}

    retired = await asyncio.to_thread(CliRunner().invoke, app, ["keys", "retire"], env=env)
    assert retired.exit_code == 0, retired.output
    assert before.current in retired.output
    only_new = LocalKeyring.load(keyring_file)
    assert set(only_new.keys) == {after.current}
    async with await psycopg.AsyncConnection.connect(
        database_url, options="-c search_path=directory"
    ) as conn:
        reopened = PersonKeys(only_new)
        for person in people[::100]:
            assert await reopened.data_key(conn, org, person) == data_keys[person]
