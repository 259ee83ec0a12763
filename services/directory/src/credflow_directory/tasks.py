"""The directory's background task: `ErasureRunner`, on every directory instance, carries out
asked-for erasures one step per transaction (`erasures.Erasures.run_next_step`), woken by a
NOTIFY when one is asked for; instances share the work (a locked erasure is skipped)."""

from __future__ import annotations

import asyncio

from credflow_common.outages import Outage
from credflow_common.waiting import notifications, poll_until_stopped
from credflow_directory.erasures import ERASURES_CHANNEL, Erasures


class ErasureRunner:
    def __init__(self, erasures: Erasures, database_url: str, poll_interval_s: float = 5.0):
        self.erasures, self.database_url = erasures, database_url
        self.poll_interval_s = poll_interval_s
        self._stopping = asyncio.Event()
        self.outage = Outage("erasure runner", self._stopping)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        await self.outage.retry(self._run_forever)

    async def _run_forever(self) -> None:
        async with notifications(self.database_url, ERASURES_CHANNEL) as woken:
            await poll_until_stopped(self.outage, self.erasures.run_next_step,
                                     interval_s=self.poll_interval_s, woken_by=woken)  # fmt: skip
