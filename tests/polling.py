"""Waiting for something another process or task does, without fixed sleeps."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 90) -> None:
    """Poll `check` until it is true; fail with TimeoutError after `timeout_s`."""
    async with asyncio.timeout(timeout_s):
        while not await check():  # noqa: ASYNC110 - the condition lives in another process
            await asyncio.sleep(0.05)


class Runnable(Protocol):
    async def run(self) -> None: ...
    def stop(self) -> None: ...


@contextlib.asynccontextmanager
async def running(service: Runnable) -> AsyncIterator[asyncio.Task[None]]:
    """Run a relay or consumer as a task for the duration of the block, then stop it."""
    task = asyncio.create_task(service.run())
    try:
        yield task
    finally:
        service.stop()
        await asyncio.wait_for(task, 30)
