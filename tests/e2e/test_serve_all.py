"""`credflow serve all` as a separate process: every service answers /health and /ready."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict

import httpx
import psycopg
import pytest

from credflow.services import SERVICES
from tests.infrastructure import Infrastructure

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def running_system(infra: Infrastructure) -> Iterator[dict[str, str]]:
    ports = {name: free_port() for name in SERVICES}
    env = {
        **os.environ,
        **{k.upper(): str(v) for k, v in asdict(infra).items() if k != "source"},
        **{f"CREDFLOW_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        "CREDFLOW_LOG_FORMAT": "json",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "credflow", "serve", "all"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        deadline = time.monotonic() + 60
        pending = set(urls)
        while pending and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            for name in list(pending):
                try:
                    if httpx.get(f"{urls[name]}/health", timeout=1).status_code == 200:
                        pending.discard(name)
                except httpx.TransportError:
                    pass
            time.sleep(0.2)
        assert not pending, f"services never answered: {pending}"
        yield urls
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise


def test_every_service_is_healthy_ready_and_has_migrated_its_own_schema(
    running_system: dict[str, str], infra: Infrastructure
) -> None:
    for name, url in running_system.items():
        health = httpx.get(f"{url}/health", timeout=5)
        assert health.status_code == 200
        assert health.json()["service"] == name
        ready = httpx.get(f"{url}/ready", timeout=10)
        assert ready.status_code == 200, ready.text
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
        assert "http_request_duration_seconds" in metrics
        assert f'credflow_relay_is_leader{{schema="{name}"}} 1.0' in metrics

    with psycopg.connect(infra.database_url) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema = ANY(%s)",
            (list(running_system),),
        ).fetchall()
    for name in running_system:
        mine = {table for schema, table in tables if schema == name}
        assert {"events", "outbox", "consumer_positions", "consumer_inbox"} <= mine, name
