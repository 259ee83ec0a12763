"""How the consumer runtime retries a batch (`credflow_common.batch_retries`)."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from credflow_common.batch_retries import BatchRetries
from credflow_common.outages import Outage


def retries(max_retries: int = 3) -> BatchRetries:
    stopping = asyncio.Event()
    return BatchRetries("test.consumer", max_retries, backoff_s=0.001, max_backoff_s=0.002,
                        stopping=stopping, outage=Outage("test", stopping))  # fmt: skip


class Attempts:
    """An attempt that fails with each of `failures` in turn, then commits."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.made = 0

    async def __call__(self) -> None:
        self.made += 1
        if self.failures:
            raise self.failures.pop(0)


async def test_a_batch_that_commits_at_once_is_tried_once() -> None:
    attempt = Attempts()
    assert await retries().apply(attempt) is None
    assert attempt.made == 1


async def test_a_handler_that_fails_twice_then_commits_is_no_poison() -> None:
    attempt = Attempts(ValueError("first"), ValueError("second"))
    assert await retries(max_retries=3).apply(attempt) is None
    assert attempt.made == 3


async def test_a_handler_that_keeps_failing_returns_its_failure_after_the_last_try() -> None:
    attempt = Attempts(*(KeyError(f"try {n}") for n in range(10)))
    failure = await retries(max_retries=3).apply(attempt)
    assert attempt.made == 3
    assert failure == "KeyError: 'try 2'"


async def test_a_database_outage_is_tried_until_the_database_answers_whatever_the_limit() -> None:
    attempt = Attempts(*(psycopg.OperationalError("connection refused") for _ in range(6)))
    assert await retries(max_retries=2).apply(attempt) is None
    assert attempt.made == 7


async def test_a_database_outage_while_stopping_is_raised_so_the_batch_waits_for_the_next_run() -> (
    None
):
    batch_retries = retries()
    batch_retries.stopping.set()
    with pytest.raises(psycopg.OperationalError):
        await batch_retries.apply(Attempts(psycopg.OperationalError("gone")))
