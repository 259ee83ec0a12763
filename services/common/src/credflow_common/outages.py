"""Outages of the real parts (PostgreSQL, Kafka, object storage, the mail server) are normal.

- A request that needs an unavailable dependency answers 503 problem+json with `Retry-After`
  (see `install_outage_handlers`), quickly, with nothing half-written.
- A background task waits an outage out: `Outage.retry` runs its work again with exponential
  backoff (tenacity's jittered policy, at most `max_wait_s` between tries), logs once when the
  outage begins and once when it ends, and reports it to `/ready` while it lasts. Any other
  error is a bug the task cannot go on from: it ends the task, and the service ends the process
  (see `credflow_common.service`) so that an orchestrator restarts it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import aiosmtplib
import psycopg
import structlog
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from minio.error import ServerError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter
from urllib3.exceptions import HTTPError as Urllib3Error

from credflow_common.problems import TYPE_BASE, ProblemError, problem_response
from credflow_common.waiting import until_any

log = structlog.get_logger("credflow.outages")
RETRY_AFTER_S = 5

OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,  # the database, including a pool that waited too long
    ConnectionError,  # refused or reset connections
    TimeoutError,
    KafkaError,
    aiosmtplib.SMTPException,
    ServerError,  # object storage answering 5xx
    Urllib3Error,  # object storage out of reach
)


def is_outage(exc: BaseException) -> bool:
    return isinstance(exc, OUTAGE_ERRORS)


def dependency_of(exc: BaseException) -> str:
    if isinstance(exc, psycopg.OperationalError):
        return "database"
    if isinstance(exc, KafkaError):
        return "Kafka"
    if isinstance(exc, aiosmtplib.SMTPException):
        return "mail server"
    if isinstance(exc, ServerError | Urllib3Error):
        return "object storage"
    return "a dependency"


def unavailable_problem(dependency: str) -> ProblemError:
    return ProblemError(
        503,
        "Service Unavailable",
        f"the {dependency} is unavailable right now; nothing was changed, try again shortly",
        type=TYPE_BASE + "unavailable",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def install_outage_handlers(app: FastAPI) -> None:
    """A request that meets an outage answers 503, never 500 (its transaction rolled back)."""

    async def on_outage(request: Request, exc: Exception) -> JSONResponse:
        dependency = dependency_of(exc)
        log.warning("request met an outage", path=request.url.path, dependency=dependency,
                    error=str(exc) or type(exc).__name__)  # fmt: skip
        return problem_response(unavailable_problem(dependency), request)

    for error in OUTAGE_ERRORS:
        app.add_exception_handler(error, on_outage)


class Outage:
    """One background task's view of the outages of what it depends on."""

    def __init__(self, task: str, stopping: asyncio.Event, max_wait_s: float = 5.0) -> None:
        self.task = task
        self.stopping = stopping
        self.max_wait_s = max_wait_s
        self.current: str | None = None  # the error, while an outage lasts
        self.ended_at: float | None = None  # when the last outage ended (time.monotonic)
        self._began = 0.0

    async def retry(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` until it returns or the task stops, waiting outages out; any other error
        propagates (the task cannot go on)."""
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_outage),
            wait=wait_exponential_jitter(multiplier=0.2, max=self.max_wait_s, jitter=0.5),
            stop=lambda _: self.stopping.is_set(),
            sleep=self._sleep,
            before_sleep=self._failed,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await work()
        except OUTAGE_ERRORS:
            if not self.stopping.is_set():
                raise
            # stopping in the middle of an outage: nothing more to do

    def failed(self, exc: BaseException) -> None:
        """Note a failed try (also for tasks that pace their own retries)."""
        if self.current is None:
            self._began = time.monotonic()
            error = str(exc) or type(exc).__name__
            log.warning("dependency unavailable; waiting for it", task=self.task,
                        dependency=dependency_of(exc), error=error)  # fmt: skip
        self.current = f"{dependency_of(exc)}: {str(exc) or type(exc).__name__}"

    def cleared(self) -> None:
        """Call after each piece of work that succeeded: ends an outage, logging it once."""
        if self.current is not None:
            self.ended_at = time.monotonic()
            log.info("dependency back; carrying on", task=self.task,
                     outage_s=round(self.ended_at - self._began, 1))  # fmt: skip
            self.current = None

    def _failed(self, state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        if failure is not None:
            self.failed(failure)

    async def _sleep(self, seconds: float) -> None:
        await until_any(self.stopping, timeout_s=seconds)
