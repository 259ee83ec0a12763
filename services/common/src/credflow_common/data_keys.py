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
from collections.abc import Callable
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

    def forget(self, organisation_id: UUID, user_id: UUID) -> None:
        self.keys.pop((organisation_id, user_id), None)

    async def close(self) -> None:
        await self.client.aclose()

    async def _fetch(self, organisation_id: UUID, user_id: UUID) -> bytes | None:
        token = issue_dev_token(
            SERVICE_ID, PLATFORM, [], [PERSONAL_DATA_PERMISSION],
            secret=self.secret, ttl=timedelta(minutes=1),
        )  # fmt: skip
        try:
            response = await self.client.get(
                f"/organisations/{organisation_id}/users/{user_id}/data-key",
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.TransportError as exc:
            raise KeyServiceUnavailableError(f"the data-key API: {exc!r}") from exc
        if response.status_code in (404, 410):
            return None
        if response.status_code >= 500:
            raise KeyServiceUnavailableError(f"the data-key API answered {response.status_code}")
        response.raise_for_status()  # 401/403: a misconfigured secret, not an outage
        encoded: str = response.json()["data_key"]
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
