"""Services as separate processes (`credflow serve NAME`) for the end-to-end benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

import httpx


async def serve_services(
    url: str, bootstrap: str, prefix: str, ports: dict[str, int], **extra_env: str
) -> list[asyncio.subprocess.Process]:
    """Start each named service on its port and wait until every one is ready."""
    return await serve_instances(url, bootstrap, prefix, list(ports.items()), **extra_env)


async def serve_instances(
    url: str, bootstrap: str, prefix: str, instances: list[tuple[str, int]], **extra_env: str
) -> list[asyncio.subprocess.Process]:
    """Start a process per (service, port), a service possibly several times (instances
    sharing its consumer groups), and wait until every one is ready. Every process is told
    the services' ports (the console calls the others), each its own last."""
    env = {
        **os.environ, "DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CREDFLOW_TOPIC_PREFIX": prefix, "CREDFLOW_LOG_LEVEL": "WARNING",
        **{f"CREDFLOW_{name.upper()}_PORT": str(port) for name, port in reversed(instances)},
        **extra_env,
    }  # fmt: skip
    quiet = asyncio.subprocess.DEVNULL
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "credflow", "serve", name,
            env={**env, f"CREDFLOW_{name.upper()}_PORT": str(port)}, stdout=quiet, stderr=quiet,
        )
        for name, port in instances
    ]  # fmt: skip
    async with httpx.AsyncClient() as client:
        for _, port in instances:
            for _ in range(600):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{port}/ready")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                await stop_services(processes)
                raise RuntimeError(f"service on port {port} never became ready")
    return processes


async def stop_services(processes: list[asyncio.subprocess.Process]) -> None:
    for process in processes:
        if process.returncode is None:
            process.terminate()
    for process in processes:
        await process.wait()


class CpuMeter:
    """CPU seconds used by each service process, by PostgreSQL and by Kafka (all of their
    processes on this machine) between `start()` and `stop()`: where a run's time went when it
    is bound by the machine's cores rather than by waiting."""

    def __init__(self, services: dict[str, asyncio.subprocess.Process]) -> None:
        self.services = {process.pid: name for name, process in services.items()}
        self.services[os.getpid()] = "bench"
        self._started: tuple[dict[str, float], float] = ({}, 0.0)
        self.used: dict[str, float] = {}
        self.wall = 0.0

    def start(self) -> None:
        self._started = self._sample(), time.perf_counter()

    def stop(self) -> None:
        (started, at), ended = self._started, self._sample()
        self.used = {name: ended[name] - started.get(name, 0.0) for name in ended}
        self.wall = time.perf_counter() - at

    def line(self) -> str:
        """The seconds of each, their sum, and the cores busy on average."""
        busy = sorted(
            ((name, seconds) for name, seconds in self.used.items() if seconds >= 0.05),
            key=lambda item: -item[1],
        )
        total = sum(self.used.values())
        return (
            f"CPU seconds: {', '.join(f'{name} {seconds:.1f}' for name, seconds in busy)};"
            f" total {total:.1f} s in {self.wall:.1f} s = {total / self.wall:.2f} of"
            f" {os.cpu_count()} cores busy"
        )

    def _sample(self) -> dict[str, float]:
        used: dict[str, float] = {}
        ticks = os.sysconf("SC_CLK_TCK")
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError):
                name = self.services.get(int(stat.parent.name)) or _infrastructure(
                    stat.parent / "cmdline"
                )
                if name:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                    # utime, stime, and those of its children that ended (the rebuild's
                    # workers, PostgreSQL's backends of closed connections)
                    used[name] = used.get(name, 0.0) + sum(map(int, fields[11:15])) / ticks
        return used


def _infrastructure(cmdline: Path) -> str | None:
    command = cmdline.read_bytes()
    if b"postgres" in command:
        return "postgres"
    if b"kafka.Kafka" in command:
        return "kafka"
    return None
