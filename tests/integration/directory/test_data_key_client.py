"""A service's client of the data-key API: keys fetched with a service token, kept in memory
for a while, forgotten at once on request; an unknown person has none, and the directory out
of reach is an outage (503 for a request, a wait for a consumer), never an error."""

from __future__ import annotations

import base64
from uuid import UUID

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


async def test_a_batch_of_keys_in_one_call_erased_and_unknown_people_without(
    directory: DirectoryApi,
) -> None:
    org = await directory.create_org("Batch Co")
    people = [UUID((await directory.create_user(org, f"p{n}@batch.test"))["user_id"])
              for n in range(3)]  # fmt: skip
    eve = await directory.create_user(org, "eve@batch.test", roles=["admin"],
                                      permissions=["privacy:erase"])  # fmt: skip
    erase = token(org.id, eve["user_id"], "admin", permissions=["privacy:erase"])
    asked: list[str] = []

    async def count(request: httpx.Request) -> None:
        asked.append(request.url.path)

    directory.client.event_hooks["request"].append(count)
    keys = DataKeys(DataKeySettings(), AuthSettings(), directory.client)
    one = await keys.key(org.id, people[0])
    stranger = uuid7()
    asked.clear()
    found = await keys.keys_of(org.id, [*people, stranger, people[1]])
    assert asked == [org.url("/data-keys")], "one call for the people not in memory"
    assert found[people[0]] == one, "the same key as one at a time"
    assert found[stranger] is None
    assert len({found[p] for p in people}) == 3, "a key each"
    assert await keys.keys_of(org.id, people) == {p: found[p] for p in people}
    assert len(asked) == 1, "kept in memory"

    erased = await directory.client.post(org.url(f"/users/{people[2]}/erasure"), headers=erase)
    assert erased.status_code == 202, erased.text
    holder = token(uuid7(), uuid7(), permissions=[PERSONAL_DATA_PERMISSION])
    asking = {"user_ids": [str(p) for p in [*people, stranger]]}
    answer = await directory.client.post(org.url("/data-keys"), headers=holder, json=asking)
    body = answer.json()
    assert answer.headers["cache-control"] == "no-store"
    assert set(body["keys"]) == {str(people[0]), str(people[1])}
    assert body["erased"] == [str(people[2])]
    assert body["unknown"] == [str(stranger)]
    refused = await directory.client.post(org.url("/data-keys"), headers=org.admin,
                                          json={"user_ids": [str(p) for p in people]})  # fmt: skip
    assert refused.status_code == 403
    too_many = await directory.client.post(org.url("/data-keys"), headers=holder,
                                           json={"user_ids": [str(uuid7())] * 1001})  # fmt: skip
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["path"] == "body.user_ids"
