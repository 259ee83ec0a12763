"""A service's client of the data-key API: keys fetched with a service token, kept in memory
for a while, forgotten at once on request; an unknown person has none, and the directory out
of reach is an outage (503 for a request, a wait for a consumer), never an error."""

from __future__ import annotations

import base64

import httpx
import pytest

from credflow_common.auth import PERSONAL_DATA_PERMISSION, AuthSettings
from credflow_common.data_keys import DataKeys, DataKeySettings, KeyServiceUnavailableError
from credflow_common.outages import is_outage
from credflow_contracts.ids import uuid7
from tests.integration.directory.conftest import DirectoryApi, token


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_keys_are_fetched_once_kept_a_while_and_forgotten_on_request(
    directory: DirectoryApi,
) -> None:
    org = await directory.create_org("Client Co")
    pat = await directory.create_user(org, "pat@client.test")
    asked: list[str] = []

    async def count(request: httpx.Request) -> None:
        asked.append(request.url.path)

    directory.client.event_hooks["request"].append(count)
    clock = Clock()
    keys = DataKeys(DataKeySettings(ttl_s=300), AuthSettings(), directory.client, timer=clock)
    holder = token(uuid7(), uuid7(), permissions=[PERSONAL_DATA_PERMISSION])
    answer = await directory.client.get(org.url(f"/users/{pat['user_id']}/data-key"),
                                        headers=holder)  # fmt: skip
    expected = base64.urlsafe_b64decode(answer.json()["data_key"] + "=")
    asked.clear()

    assert await keys.key(org.id, pat["user_id"]) == expected
    assert await keys.key(org.id, pat["user_id"]) == expected
    assert len(asked) == 1, "kept in memory"
    clock.now += 301
    assert await keys.key(org.id, pat["user_id"]) == expected
    assert len(asked) == 2, "for five minutes at most"
    keys.forget(org.id, pat["user_id"])
    assert await keys.key(org.id, pat["user_id"]) == expected
    assert len(asked) == 3, "forgotten at once"
    assert await keys.key(org.id, uuid7()) is None, "nobody of that id"


async def test_the_directory_out_of_reach_is_an_outage() -> None:
    settings = DataKeySettings(directory_url="http://127.0.0.1:1", timeout_s=0.5)
    keys = DataKeys(settings, AuthSettings())
    try:
        with pytest.raises(KeyServiceUnavailableError) as unavailable:
            await keys.key(uuid7(), uuid7())
        assert is_outage(unavailable.value)
    finally:
        await keys.close()


def test_service_tokens_need_a_secret() -> None:
    with pytest.raises(RuntimeError, match="CREDFLOW_AUTH_JWT_SECRET"):
        DataKeys(DataKeySettings(), AuthSettings(jwt_secret=""))
