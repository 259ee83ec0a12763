"""The `credflow` command."""

from __future__ import annotations

import asyncio
import os

import structlog
import typer
import uvicorn

from credflow.services import SERVICES, ServiceEntry
from credflow_common.logging import configure_logging
from credflow_common.settings import InfraSettings, RuntimeSettings

app = typer.Typer(
    help="credflow: event-sourced workforce credential tracking.", no_args_is_help=True
)


def _port_for(entry: ServiceEntry) -> int:
    """A service's port: CREDFLOW_<NAME>_PORT, else its default."""
    return int(os.environ.get(f"CREDFLOW_{entry.name.upper()}_PORT", entry.default_port))


async def _serve(entries: list[ServiceEntry], host: str, port_override: int | None) -> None:
    infra = InfraSettings()
    log = structlog.get_logger("credflow.serve")
    servers: list[uvicorn.Server] = []
    for entry in entries:
        port = port_override if port_override is not None else _port_for(entry)
        config = uvicorn.Config(
            entry.create_app(infra), host=host, port=port, log_config=None, lifespan="on"
        )
        servers.append(uvicorn.Server(config))
        log.info("service starting", service=entry.name, url=f"http://{host}:{port}")
    await asyncio.gather(*(server.serve() for server in servers))


@app.command()
def serve(
    service: str = typer.Argument(help=f"one of: {', '.join(SERVICES)}, or 'all'"),
    port: int | None = typer.Option(None, help="HTTP port (one service only)"),
) -> None:
    """Run one service, or every service in one process with `all`."""
    runtime = RuntimeSettings()
    configure_logging(runtime.log_level, runtime.effective_log_format)
    if service == "all":
        if port is not None:
            raise typer.BadParameter("--port applies to a single service", param_hint="--port")
        entries = list(SERVICES.values())
    elif service in SERVICES:
        entries = [SERVICES[service]]
    else:
        raise typer.BadParameter(
            f"unknown service {service!r}; choose one of {', '.join(SERVICES)} or 'all'",
            param_hint="SERVICE",
        )
    asyncio.run(_serve(entries, runtime.http_host, port))


@app.command("services")
def list_services() -> None:
    """List every service with the URL it serves on."""
    host = RuntimeSettings().http_host
    for entry in SERVICES.values():
        typer.echo(f"{entry.name:<11} http://{host}:{_port_for(entry)}")
