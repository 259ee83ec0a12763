"""Waiting for something another process or task does, without fixed sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 90) -> None:
    """Poll `check` until it is true; fail with TimeoutError after `timeout_s`."""
    async with asyncio.timeout(timeout_s):
        while not await check():  # noqa: ASYNC110 - the condition lives in another process
            await asyncio.sleep(0.05)
