"""Who a person is now, from the directory (the console's own `platform:people` token): at
sign-in, by verified email or for the development "sign in as" page; on every page, by id, so
that a change of roles, permissions or status takes effect within seconds on open sessions."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from cachetools import TTLCache

from credflow_common.auth import PEOPLE_PERMISSION
from credflow_console.api import Api
from credflow_console.keys import Person, TokenMinter

Body = dict[str, Any]
CURRENT_FOR_S = 2.0
"""How long a page may use what the directory said of its person (the console's part of the
delay before a changed role shows)."""
_NOT_CACHED: Any = object()


def person_of(found: Body) -> Person:
    return Person(
        UUID(found["user_id"]), UUID(found["organisation_id"]), found["name"], found["email"],
        tuple(found["roles"]), tuple(found["permissions"]),
    )  # fmt: skip


class People:
    def __init__(self, api: Api, minter: TokenMinter) -> None:
        self.api, self.minter = api, minter
        self._current: TTLCache[tuple[UUID, UUID], Body | None] = TTLCache(100_000, CURRENT_FOR_S)
        self._token: TTLCache[str, str] = TTLCache(1, ttl=30)  # the token lives a minute

    async def find(self, **query: str) -> list[Body]:
        token = self._token.get("platform")
        if token is None:
            token = self._token["platform"] = self.minter.mint_for_platform([PEOPLE_PERMISSION])
        response = await self.api.request(token, "GET", "directory", "/people", params=query)
        items: list[Body] = response.json()["items"]
        return items

    async def current(self, organisation_id: UUID, user_id: UUID) -> Body | None:
        """The person as the directory has them now (at most `CURRENT_FOR_S` old), or None."""
        key = (organisation_id, user_id)
        found = self._current.get(key, _NOT_CACHED)
        if found is _NOT_CACHED:
            people = await self.find(organisation_id=str(organisation_id), user_id=str(user_id))
            found = self._current[key] = people[0] if people else None
        return cast(Body | None, found)
