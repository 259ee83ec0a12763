"""`credflow serve all` as a separate process: every service answers /health and /ready.

It runs on its own database and topic prefix, so it never writes into what a developer's
`make run` reads (the demo organisation's id is the same everywhere)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from credflow.services import SERVICES
from tests.e2e.system import free_ports, prefixed_topics, service_env
from tests.infrastructure import Infrastructure

pytestmark = pytest.mark.e2e


@pytest.fixture
async def topic_prefix(infra: Infrastructure, unique: str) -> AsyncIterator[str]:
    async with prefixed_topics(infra, f"serve-all-{unique}.") as prefix:
        yield prefix


@pytest.fixture
def running_system(
    infra: Infrastructure, database_url: str, topic_prefix: str, tmp_path: Path
) -> Iterator[dict[str, str]]:
    ports = free_ports(SERVICES)
    env = service_env(infra, database_url, topic_prefix, ports, CREDFLOW_LOG_FORMAT="json")
    log = tmp_path / "serve-all.log"  # a file, not a pipe nobody reads: that could fill up
    print(f"service log: {log}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "credflow", "serve", "all"],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        deadline = time.monotonic() + 60
        pending = set(urls)
        while pending and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
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
    running_system: dict[str, str], database_url: str
) -> None:
    for name, url in running_system.items():
        health = httpx.get(f"{url}/health", timeout=5)
        assert health.status_code == 200
        assert health.json()["service"] == name
        ready = httpx.get(f"{url}/ready", timeout=10)
        assert ready.status_code == 200, ready.text
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
        assert "http_request_duration_seconds" in metrics
        if name not in ("projection", "console"):  # they publish nothing: no relay
            assert f'credflow_relay_is_leader{{schema="{name}"}} 1.0' in metrics

    owners = [name for name in running_system if name != "console"]  # no domain data: sessions
    with psycopg.connect(database_url) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema = ANY(%s)",
            (list(running_system),),
        ).fetchall()
    console = {table for schema, table in tables if schema == "console"}
    assert console - {"_yoyo_log", "_yoyo_migration", "_yoyo_version", "yoyo_lock"} == {"sessions"}
    for name in owners:
        mine = {table for schema, table in tables if schema == name}
        assert {"events", "outbox", "consumer_positions", "consumer_inbox"} <= mine, name


def test_demo_organisation_loads_once_and_its_tokens_work(running_system: dict[str, str]) -> None:
    directory = running_system["directory"]
    outputs = [
        subprocess.run(
            # The demo's workers and credentials are the journeys' demo test's business.
            [sys.executable, "-m", "credflow", "demo", "--url", directory, "--no-data"],
            capture_output=True, text=True, check=True, timeout=120,
            env={**os.environ, **{f"CREDFLOW_{name.upper()}_PORT": url.rsplit(":", 1)[1]
                                  for name, url in running_system.items()}},
        ).stdout
        for _ in range(2)
    ]  # fmt: skip
    assert outputs[0].splitlines()[0] == outputs[1].splitlines()[0], "the same organisation"
    console = running_system["console"]
    assert f"Console (web pages): {console}/" in outputs[1]
    assert f"{console}/sign-in/as" in outputs[1]
    tokens = {
        line.split("=", 1)[0].split()[-1]: line.split("=", 1)[1]
        for line in outputs[1].splitlines()
        if line.strip().startswith("export ")
    }
    assert set(tokens) == {
        "ADMIN_TOKEN", "MANAGER_TOKEN", "REVIEWER_TOKEN", "WORKER_TOKEN", "CLIENT_VIEWER_TOKEN",
        "ORG", "DIRECTORY", "SUBMISSION", "REVIEW", "IMPORTER", "REMINDER", "VIEWS", "MAIL",
    }  # fmt: skip
    org = outputs[0].split(": ")[1].splitlines()[0].strip()
    assert tokens["ORG"] == org
    assert tokens["VIEWS"] == f"{running_system['projection']}/organisations/{org}"
    assert tokens["REMINDER"] == f"{running_system['reminder']}/organisations/{org}"

    def get(path: str, token: str) -> httpx.Response:
        return httpx.get(f"{directory}/organisations/{org}{path}",
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip

    users = get("/users?limit=1000", tokens["ADMIN_TOKEN"]).json()["items"]
    assert len(users) == 11, "admin, 2 managers, reviewer, client viewer, 6 workers"
    companies = [c["name"] for c in get("/companies", tokens["ADMIN_TOKEN"]).json()["items"]]
    assert sorted(companies) == ["Northwind Contracting", "Southbank Electrical"]
    kinds = {t["name"] for t in get("/credential-types", tokens["WORKER_TOKEN"]).json()["items"]}
    assert kinds == {"Driver's licence", "First aid certificate", "Working at heights",
                     "White card (construction induction)", "Electrical licence"}  # fmt: skip
    assert len(get("/requirements", tokens["WORKER_TOKEN"]).json()["items"]) == 4
    assert get("/users", tokens["WORKER_TOKEN"]).status_code == 403
    assert get("/users", tokens["CLIENT_VIEWER_TOKEN"]).status_code == 200
