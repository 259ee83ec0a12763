"""The services as separate processes (`credflow serve NAME`), each on its own port, sharing a
fresh database and a fresh topic prefix: how they run in production, minus the network."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from credflow_contracts.topics import ALL_TOPICS
from tests.infrastructure import Infrastructure
from tests.integration.runtime_support import create_topics, delete_topics_with_prefix


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(names: Iterable[str]) -> dict[str, int]:
    """A port for each name, all distinct (the OS may hand the same free port out twice)."""
    ports: dict[str, int] = {}
    for name in names:
        while (port := free_port()) in ports.values():
            pass
        ports[name] = port
    return ports


def service_env(
    infra: Infrastructure, database_url: str, prefix: str, ports: dict[str, int], **extra: str
) -> dict[str, str]:
    """The environment of service processes on `infra`, with their own database, topic prefix
    and ports; with a console among them, the services accept its sign-in tokens."""
    console = (
        {"CREDFLOW_AUTH_JWKS_URL": f"http://127.0.0.1:{ports['console']}/.well-known/jwks.json",
         "CREDFLOW_CONSOLE_PUBLIC_URL": f"http://127.0.0.1:{ports['console']}"}
        if "console" in ports else {}
    )  # fmt: skip
    return {
        **os.environ,
        **{k.upper(): str(v) for k, v in asdict(infra).items() if k != "source"},
        "DATABASE_URL": database_url,
        "CREDFLOW_TOPIC_PREFIX": prefix,
        "CREDFLOW_EXIT_ON_TASK_FAILURE": "true",
        "CREDFLOW_LOG_LEVEL": "INFO",
        "CREDFLOW_SEALING": "true",
        **{
            f"CREDFLOW_{name.upper()}_PORT": str(port)
            for name, port in ports.items()
            if "@" not in name
        },
        **console,
        **extra,
    }


@contextlib.asynccontextmanager
async def prefixed_topics(
    infra: Infrastructure, prefix: str, partitions: int = 6
) -> AsyncIterator[str]:
    """Every credflow topic (and its dead-letter topic) under `prefix`, deleted afterwards."""
    await create_topics(infra.kafka_bootstrap_servers, [prefix + t for t in ALL_TOPICS], partitions)
    try:
        yield prefix
    finally:
        await delete_topics_with_prefix(infra.kafka_bootstrap_servers, prefix)


@dataclass
class System:
    env: dict[str, str]
    database_url: str
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="credflow-e2e-")))

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self, name: str) -> None:
        """Start `name`, a service or another instance of one (`review@2`: a second review
        process, on a port of its own, in the same consumer groups); its log goes to
        `log_dir/NAME.log` (appended to across restarts)."""
        service = name.split("@")[0]
        env = {**self.env, f"CREDFLOW_{service.upper()}_PORT": str(self.ports[name])}
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "credflow", "serve", service],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait()

    async def ready(self, *names: str) -> None:
        async with httpx.AsyncClient() as client:
            for name in names:
                for _ in range(600):
                    assert self.processes[name].poll() is None, f"{name} exited"
                    try:
                        if (await client.get(f"{self.url(name)}/ready")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError(f"{name} never became ready")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.asynccontextmanager
async def running_system(
    infra: Infrastructure,
    database_url: str,
    prefix: str,
    services: tuple[str, ...],
    **extra_env: str,
) -> AsyncIterator[System]:
    """`services` started as processes on free ports, ready; stopped and their topics deleted
    afterwards."""
    ports = free_ports(services)
    system = System(
        service_env(infra, database_url, prefix, ports, **extra_env), database_url, ports
    )
    print(f"service logs: {system.log_dir}")  # shown by pytest when a test fails
    async with prefixed_topics(infra, prefix):
        try:
            for name in services:
                system.start(name)
            await system.ready(*services)
            yield system
        finally:
            system.stop()
