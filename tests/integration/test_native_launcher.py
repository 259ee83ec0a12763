"""`make up` is idempotent: a second start reuses the servers that already run."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.infrastructure import Infrastructure
from tests.launcher import LAUNCHER, load_launcher

pytestmark = pytest.mark.integration


def test_second_up_reuses_every_running_server(infra: Infrastructure) -> None:
    if infra.source == "testcontainers":
        pytest.skip("Docker provides the servers here, not the native launcher")
    launcher = load_launcher()
    before = {name: launcher.read_pid(name) for name in ("kafka", "minio", "smtp")}
    assert all(before.values()), f"pid files missing: {before}"

    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(LAUNCHER), "up"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    elapsed = time.monotonic() - started

    after = {name: launcher.read_pid(name) for name in before}
    assert after == before, "a running server was restarted"
    for name in ("postgres", "kafka", "minio", "smtp sink"):
        assert f"{name} already running" in result.stderr
    print(f"warm `infra.py up`: {elapsed:.1f}s")
