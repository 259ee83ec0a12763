"""How the consumer runtime retries a batch: a handler that fails is tried again with backoff
up to `max_retries` times, then the batch is poison; a database outage is no poison and is
tried until the database answers (or the consumer stops, when the outage is raised so that the
batch is left for the next run)."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import psycopg
import structlog
from tenacity import AsyncRetrying, RetryCallState, wait_exponential

from credflow_common.metrics import ConsumerMetrics
from credflow_common.outages import Outage

log = structlog.get_logger("credflow.consumer")


@dataclass
class BatchRetries:
    consumer: str
    max_retries: int
    backoff_s: float
    max_backoff_s: float
    stopping: asyncio.Event
    outage: Outage
    metrics: ConsumerMetrics | None = None

    async def apply(self, attempt: Callable[[], Awaitable[None]]) -> str | None:
        """Run `attempt` until it commits: None; or the handler's failure, described, once it
        kept failing (poison)."""
        try:
            # The usual case builds no retry state: tenacity's objects form reference cycles,
            # and freeing a few thousand batches' worth paused the service for 100+ ms.
            await attempt()
            return None
        except Exception as exc:
            first_failure = exc
        if self.stopping.is_set() and isinstance(first_failure, psycopg.OperationalError):
            raise first_failure
        if not isinstance(first_failure, psycopg.OperationalError) and self._out_of_attempts(1):
            return self._poisoned(first_failure)
        self._note_failure(first_failure, attempt=1)
        await asyncio.sleep(self.backoff_s)
        retrying = AsyncRetrying(
            stop=self._give_up,
            wait=wait_exponential(multiplier=self.backoff_s * 2, max=self.max_backoff_s),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            async for try_again in retrying:
                with try_again:
                    await attempt()
        except psycopg.OperationalError:
            raise  # only when stopping: the batch is left for the next run
        except Exception as exc:  # the handler's failure, after every retry: poison
            return self._poisoned(exc)
        return None

    def _poisoned(self, failure: BaseException) -> str:
        if self.metrics:
            self.metrics.failed.labels(self.consumer).inc()
        return "".join(traceback.format_exception_only(failure)).strip()

    def _out_of_attempts(self, attempts: int) -> bool:
        return attempts >= self.max_retries

    def _give_up(self, state: RetryCallState) -> bool:
        """Tenacity's stop rule; its attempts come after the first one `apply` made on its
        own."""
        if self.stopping.is_set():
            return True
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, psycopg.OperationalError):
            return False
        return self._out_of_attempts(state.attempt_number + 1)

    def _log_retry(self, state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        if failure is not None:
            self._note_failure(failure, attempt=state.attempt_number + 1)

    def _note_failure(self, failure: BaseException, attempt: int) -> None:
        if isinstance(failure, psycopg.OperationalError):
            self.outage.failed(failure)  # logged once per outage
            return
        if self.metrics:
            self.metrics.failed.labels(self.consumer).inc()
        log.warning("handler failed; retrying", consumer=self.consumer, attempt=attempt,
                    error=repr(failure))  # fmt: skip
