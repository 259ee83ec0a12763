"""Fixtures shared by every test tier.

Unit tests need none of these. Integration and end-to-end tests ask for `infra` (and the
narrower fixtures built on it), which reach real servers: see tests/infrastructure.py.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.infrastructure import Infrastructure, infrastructure, temporary_database

# Services started inside the test process must not end it when a background task fails (the
# test sees the failure instead); service processes of the end-to-end tier set it back.
os.environ["CREDFLOW_EXIT_ON_TASK_FAILURE"] = "false"
# The tests sign their tokens with the development secret and use "sign in as": they run in
# development, said here (the default is production). Service processes inherit it.
os.environ["CREDFLOW_ENVIRONMENT"] = "development"
# Services run in-process here have no directory on a port to ask for people's data keys: they
# do not seal. Every service started as a process (tests/e2e, the chaos suite) seals.
os.environ["CREDFLOW_SEALING"] = "false"


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    try:
        with infrastructure() as stack:
            yield stack
    except Exception as exc:  # unreachable infrastructure is a failure, never a skip
        pytest.fail(f"infrastructure unavailable: {exc}", pytrace=False)


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic, bucket, database and consumer-group names."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
async def database_url(infra: Infrastructure, unique: str) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    async with temporary_database(infra.database_url, f"test_{unique}") as url:
        yield url
