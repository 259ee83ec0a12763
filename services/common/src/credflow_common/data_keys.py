"""People's data keys for a service that seals or opens their personal fields (ADR 0017).

Keys come from the directory's data-key API, asked with a one-minute service token (HS256 with
`CREDFLOW_AUTH_JWT_SECRET`, permission `platform:personal-data`). A key is kept in memory for
`CREDFLOW_DATA_KEYS_TTL_S` at most, never written anywhere, and `forget` drops it at once (the
service's consumer of `PersonErased` calls it). The directory out of reach is an outage
(`KeyServiceUnavailableError`: requests answer 503, consumers wait).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Collection
from datetime import timedelta
from time import monotonic
from typing import Any
from uuid import UUID

import httpx
from cachetools import TTLCache
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from credflow_common.auth import PERSONAL_DATA_PERMISSION, AuthSettings, issue_dev_token

SERVICE_ID = UUID(int=2)
"""The `sub` of service tokens (no person)."""
PLATFORM = UUID(int=0)
_NOT_CACHED: Any = object()
BATCH = 1000  # the data-key API's most keys per call


class KeyServiceUnavailableError(ConnectionError):
    """The directory's data-key API could not answer now."""


def _directory_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('CREDFLOW_DIRECTORY_PORT', '8101')}"


class DataKeySettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CREDFLOW_DATA_KEYS_", env_file=".env", extra="ignore"
    )

    directory_url: str = Field(default_factory=_directory_url)
    ttl_s: float = Field(default=300, gt=0, le=900, description="Longest a key stays in memory.")
    timeout_s: float = Field(default=3.0, gt=0)


class DataKeys:
    def __init__(
        self,
        settings: DataKeySettings,
        auth: AuthSettings,
        client: httpx.AsyncClient | None = None,
        timer: Callable[[], float] = monotonic,
    ) -> None:
        if not auth.jwt_secret:
            raise RuntimeError(
                "service tokens for the data-key API need CREDFLOW_AUTH_JWT_SECRET (a long random"
                " value shared by the services)"
            )
        self.secret = auth.jwt_secret
        self.client = client or httpx.AsyncClient(
            base_url=settings.directory_url, timeout=settings.timeout_s
        )
        self.keys: TTLCache[tuple[UUID, UUID], bytes | None] = TTLCache(
            100_000, settings.ttl_s, timer=timer
        )

    async def key(self, organisation_id: UUID, user_id: UUID) -> bytes | None:
        """The person's data key; None when the directory has no such person (or erased them)."""
        subject = (organisation_id, user_id)
        found = self.keys.get(subject, _NOT_CACHED)
        if found is _NOT_CACHED:
            found = self.keys[subject] = await self._fetch(organisation_id, user_id)
        return found  # type: ignore[no-any-return]

    async def keys_of(
        self, organisation_id: UUID, user_ids: Collection[UUID], conn: Any = None
    ) -> dict[UUID, bytes | None]:
        """The data keys of many people (a consumer's batch), those not in memory fetched in
        calls of up to a thousand; None for a person erased or unknown."""
        wanted = list(dict.fromkeys(user_ids))
        found: dict[UUID, bytes | None] = {}
        missing: list[UUID] = []
        for user_id in wanted:
            cached = self.keys.get((organisation_id, user_id), _NOT_CACHED)
            if cached is _NOT_CACHED:
                missing.append(user_id)
            else:
                found[user_id] = cached
        for start in range(0, len(missing), BATCH):
            chunk = missing[start : start + BATCH]
            fetched = await self._fetch_many(organisation_id, chunk)
            for user_id in chunk:
                found[user_id] = self.keys[(organisation_id, user_id)] = fetched.get(user_id)
        return found

    def forget(self, organisation_id: UUID, user_id: UUID) -> None:
        self.keys.pop((organisation_id, user_id), None)

    async def close(self) -> None:
        await self.client.aclose()

    async def _fetch(self, organisation_id: UUID, user_id: UUID) -> bytes | None:
        path = f"/organisations/{organisation_id}/users/{user_id}/data-key"
        response = await self._call("GET", path)
        if response.status_code in (404, 410):
            return None
        self._check(response)
        return _decoded(response.json()["data_key"])

    async def _fetch_many(self, organisation_id: UUID, user_ids: list[UUID]) -> dict[UUID, bytes]:
        path = f"/organisations/{organisation_id}/data-keys"
        response = await self._call("POST", path, {"user_ids": [str(u) for u in user_ids]})
        self._check(response)
        keys: dict[str, str] = response.json()["keys"]
        return {UUID(user_id): _decoded(key) for user_id, key in keys.items()}

    async def _call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        token = issue_dev_token(
            SERVICE_ID, PLATFORM, [], [PERSONAL_DATA_PERMISSION],
            secret=self.secret, ttl=timedelta(minutes=1),
        )  # fmt: skip
        try:
            return await self.client.request(
                method, path, json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.TransportError as exc:
            raise KeyServiceUnavailableError(f"the data-key API: {exc!r}") from exc

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.status_code >= 500:
            raise KeyServiceUnavailableError(f"the data-key API answered {response.status_code}")
        response.raise_for_status()  # 401/403: a misconfigured secret, not an outage


def _decoded(encoded: str) -> bytes:
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
