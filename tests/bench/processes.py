"""Services as separate processes (`credflow serve NAME`) for the end-to-end benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

import httpx


async def serve_services(
    url: str, bootstrap: str, prefix: str, ports: dict[str, int], **extra_env: str
) -> list[asyncio.subprocess.Process]:
    """Start each named service on its port and wait until every one is ready."""
    env = {
        **os.environ, "DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CREDFLOW_TOPIC_PREFIX": prefix, "CREDFLOW_LOG_LEVEL": "WARNING",
        **{f"CREDFLOW_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        **extra_env,
    }  # fmt: skip
    quiet = asyncio.subprocess.DEVNULL
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "credflow", "serve", name, env=env, stdout=quiet, stderr=quiet
        )
        for name in ports
    ]
    async with httpx.AsyncClient() as client:
        for port in ports.values():
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
