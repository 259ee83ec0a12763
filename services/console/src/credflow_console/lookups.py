"""Organisation-wide reference data every page needs (settings, credential types), kept for a
few seconds per organisation so that a page costs one call to the views, not three."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from cachetools import TTLCache

from credflow_console.api import Caller

Body = dict[str, Any]
_settings: TTLCache[UUID, Body] = TTLCache(10_000, ttl=5)
_types: TTLCache[UUID, list[Body]] = TTLCache(10_000, ttl=5)


async def organisation_settings(caller: Caller) -> Body:
    found = _settings.get(caller.organisation_id)
    if found is None:
        found = (await caller.get("directory", ""))["settings"]
        _settings[caller.organisation_id] = found
    return found


async def credential_types(caller: Caller) -> list[Body]:
    """Every type, archived ones included (old credentials still name them)."""
    found = _types.get(caller.organisation_id)
    if found is None:
        found = (await caller.get("directory", "/credential-types", include_archived="true"))[
            "items"
        ]
        _types[caller.organisation_id] = found
    return found


def forget(organisation_id: UUID) -> None:
    _settings.pop(organisation_id, None)
    _types.pop(organisation_id, None)
