"""The `credflow` command."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import structlog
import typer
import uvicorn
import uvloop

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
    runtime = RuntimeSettings()
    configure_logging(runtime.log_level, runtime.effective_log_format)
    # uvloop: the same asyncio API with a faster loop (a third less CPU per request).
    uvloop.run(_serve(entries, runtime.http_host, port))


dlq_app = typer.Typer(help="Dead-letter topics: list and re-drive.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")


@dlq_app.command("list")
def dlq_list(
    topic: str = typer.Argument(help="a dead-letter topic, e.g. credflow.credentials.dlq"),
) -> None:
    """Show every record in a dead-letter topic."""
    from rich.console import Console
    from rich.table import Table

    from credflow_common.dlq import read_dead_letters

    letters = asyncio.run(read_dead_letters(InfraSettings().kafka_bootstrap_servers, topic))
    table = Table(title=f"{topic}: {len(letters)} dead letter(s)")
    table.add_column("ref", no_wrap=True)
    for column in ("consumer", "source", "event", "failed at", "error"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        table.add_row(
            f"{letter.partition}:{letter.offset}",
            letter.consumer,
            f"{letter.source_topic}:{letter.source_partition}:{letter.source_offset}",
            f"{letter.event_type or '?'}\n{letter.event_id or ''}",
            letter.failed_at,
            letter.error,
        )
    Console(width=200).print(table)


@dlq_app.command("redrive")
def dlq_redrive(
    topic: str = typer.Argument(help="a dead-letter topic, e.g. credflow.credentials.dlq"),
    refs: list[str] = typer.Option(  # noqa: B008 - typer's documented style
        None,
        "--ref",
        help="only these letters (partition:offset, as `dlq list` shows); default all",
    ),
    consumer: str | None = typer.Option(None, help="only letters of this consumer"),
) -> None:
    """Publish dead letters back to their source topic, for the consumer that failed on them.

    The consumer applies each one once, however often it is re-driven."""
    from credflow_common.dlq import read_dead_letters, redrive

    bootstrap = InfraSettings().kafka_bootstrap_servers
    letters = asyncio.run(read_dead_letters(bootstrap, topic))
    wanted = {f"{topic}:{ref}" for ref in refs or []}
    chosen = [
        letter
        for letter in letters
        if (not wanted or letter.ref in wanted)
        and (consumer is None or letter.consumer == consumer)
    ]
    missing = wanted - {letter.ref for letter in chosen}
    if missing:
        raise typer.BadParameter(
            f"no such dead letter: {', '.join(sorted(missing))}", param_hint="--ref"
        )
    for letter, target in asyncio.run(redrive(bootstrap, chosen)):
        typer.echo(f"re-drove {letter.ref} -> {target} for consumer {letter.consumer}")
    typer.echo(f"{len(chosen)} dead letter(s) re-driven")


projection_app = typer.Typer(help="The projection's views.", no_args_is_help=True)
app.add_typer(projection_app, name="projection")


@projection_app.command("rebuild")
def projection_rebuild(
    keep_retired: bool = typer.Option(False, help="keep the replaced schema as projection_retired"),
) -> None:
    """Replay every public topic from offset 0 into a fresh schema while the live views keep
    serving, then swap the two atomically."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from credflow_projection.rebuild import rebuild

    runtime = RuntimeSettings()
    configure_logging("WARNING", runtime.effective_log_format)
    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        "events", TimeRemainingColumn(),
    ) as progress:  # fmt: skip
        task = progress.add_task("replaying", total=None)
        report = asyncio.run(
            rebuild(
                InfraSettings(),
                runtime,
                on_start=lambda total: progress.update(task, total=total),
                on_applied=lambda count: progress.advance(task, count),
                keep_retired=keep_retired,
            )
        )
    typer.echo(
        f"rebuilt the views from {report.events_applied} events and swapped them in"
        f" ({report.events_total} in the log at the start)"
    )


keys_app = typer.Typer(
    help="The keyring whose key-encryption keys wrap people's data keys (ADR 0017).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(path: Path = typer.Argument(help="where to write the new keyring")) -> None:  # noqa: B008 - typer's documented style
    """Write a new keyring with one key-encryption key (mode 0600); an existing one is kept."""
    from credflow_common.keyring import LocalKeyring

    if path.exists():
        raise typer.BadParameter(f"{path} exists; it is kept as it is", param_hint="PATH")
    keyring = LocalKeyring.load(path)
    typer.echo(f"keyring with key-encryption key {keyring.current} written to {path}")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a key-encryption key, make it current, and rewrap every person's data key under it.
    The old keys stay in the keyring: restart the directory instances (they then wrap new data
    keys under the new one), run `credflow keys rewrap` for keys they made meanwhile, then
    `credflow keys retire`."""
    _rotate(new_key=True)


@keys_app.command("rewrap")
def keys_rewrap() -> None:
    """Rewrap every data key still under an older key-encryption key (after a rotation)."""
    _rotate(new_key=False)


def _rotate(*, new_key: bool) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    from credflow_common.keyring import KeyringSettings, LocalKeyring
    from credflow_directory.person_keys import count_wrapped, rewrap_all

    path = KeyringSettings().file
    keyring = LocalKeyring.load(path)
    if new_key:
        keyring = keyring.rotated()
        keyring.save(path)
        typer.echo(f"new key-encryption key {keyring.current} is current in {path}")
    database_url = InfraSettings().database_url
    with Progress("rewrapping data keys", BarColumn(), MofNCompleteColumn()) as progress:
        task = progress.add_task("rewrap", total=asyncio.run(count_wrapped(database_url)))
        done = asyncio.run(rewrap_all(database_url, keyring, lambda n: progress.advance(task, n)))
    typer.echo(f"{done} data key(s) rewrapped under {keyring.current}")


@keys_app.command("retire")
def keys_retire() -> None:
    """Remove from the keyring every key-encryption key no data key is wrapped under any more."""
    from credflow_common.keyring import KeyringSettings, LocalKeyring
    from credflow_directory.person_keys import key_ids_in_use

    path = KeyringSettings().file
    keyring = LocalKeyring.load(path)
    in_use = asyncio.run(key_ids_in_use(InfraSettings().database_url))
    kept = {kid: key for kid, key in keyring.keys.items() if kid in in_use | {keyring.current}}
    LocalKeyring(keyring.current, kept).save(path)
    retired = sorted(set(keyring.keys) - set(kept))
    typer.echo(f"retired {', '.join(retired) or 'nothing'}; kept {', '.join(sorted(kept))}")


@app.command()
def token(
    org: str = typer.Option(..., help="organisation id"),
    user: str = typer.Option(..., help="user id"),
    role: list[str] = typer.Option(  # noqa: B008 - typer's documented style
        ["worker"], help="admin, manager, reviewer, worker, client_viewer (repeatable)"
    ),
    permission: list[str] = typer.Option(  # noqa: B008 - typer's documented style
        [], help="e.g. users:manage (repeatable)"
    ),
    hours: float = typer.Option(12, help="validity in hours"),
) -> None:
    """Mint a development token (HS256, CREDFLOW_AUTH_JWT_SECRET)."""
    from datetime import timedelta
    from uuid import UUID

    from credflow_common.auth import AuthSettings, issue_dev_token

    try:
        org_id, user_id = UUID(org), UUID(user)
    except ValueError as exc:
        raise typer.BadParameter(f"not a UUID: {exc}", param_hint="--org/--user") from exc
    typer.echo(
        issue_dev_token(
            user_id, org_id, role, permission, secret=AuthSettings().jwt_secret,
            ttl=timedelta(hours=hours),
        )
    )  # fmt: skip


@app.command()
def demo(
    url: str = typer.Option(
        None, help="directory service URL (default: http://<host>:<directory port>)"
    ),
    data: bool = typer.Option(True, help="also load the workers and credentials"),
) -> None:
    """Create the demo organisation with a few hundred workers and credentials in every status
    (idempotent) and print tokens and commands to try the API with."""
    from datetime import UTC, datetime

    from credflow.demo import DemoError, create_demo
    from credflow.demo_data import DemoUrls, load_demo_data

    host = RuntimeSettings().http_host

    def service_url(name: str) -> str:
        if name == "directory" and url:
            return url
        return f"http://{host}:{_port_for(SERVICES[name])}"

    directory_url = service_url("directory")
    urls = DemoUrls(
        directory_url, service_url("importer"), service_url("review"), service_url("submission")
    )
    try:
        organisation = create_demo(directory_url)
        if data:
            loaded = load_demo_data(urls, organisation, datetime.now(UTC).date(), typer.echo)
            if loaded.loaded_now:
                typer.echo(f"demo data: {loaded.workers} workers, {loaded.credentials} credentials")
    except (DemoError, OSError) as exc:
        typer.echo(f"demo failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    org = organisation.organisation_id
    console = service_url("console")
    typer.echo(f"Demo organisation 'Demo Constructions': {org}")
    typer.echo(f"Console (web pages): {console}/   sign in as a demo person: {console}/sign-in/as")
    typer.echo("Tokens (valid 12 hours):")
    for label in ("admin", "manager", "reviewer", "worker", "client_viewer"):
        person = organisation.people[label]
        typer.echo(f"  {label:<14} {person['name']:<16} {person['email']}")
        typer.echo(f"    export {label.upper()}_TOKEN={organisation.token(label)}")
    typer.echo(f"    export ORG={org}")
    typer.echo("The organisation's API on each service, and the mail sink's API:")
    for name in SERVICES:  # the views are the projection's
        if name == "console":
            continue
        variable = "VIEWS" if name == "projection" else name.upper()
        typer.echo(f"    export {variable}={service_url(name)}/organisations/{org}")
    mail = os.environ.get("MAIL_API_URL", "http://127.0.0.1:18025")
    typer.echo(f"    export MAIL={mail}/api/v1")
    as_ = 'curl -s -H "Authorization: Bearer ${}_TOKEN"'
    typer.echo("Try (README.md walks through every journey):")
    typer.echo(f"  {as_.format('ADMIN')} $DIRECTORY/users")
    typer.echo(f'  {as_.format("CLIENT_VIEWER")} "$VIEWS/credentials?status=expired"')
    typer.echo(f"  {as_.format('CLIENT_VIEWER')} $VIEWS/companies")
    typer.echo(f"  {as_.format('MANAGER')} $REVIEW/reviews")
    typer.echo(f"  {as_.format('ADMIN')} $VIEWS/credentials.csv")


AS_HELP = (
    "the importing user (id or email); acts as them with a development token unless --token"
    " is given"
)


@app.command("import")
def import_file(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="the CSV to import"),  # noqa: B008
    org: str = typer.Option(..., help="organisation id"),
    as_: str = typer.Option(..., "--as", help=AS_HELP),
    bearer: str = typer.Option(None, "--token", envvar="CREDFLOW_TOKEN", help="a bearer token"),
    finish: bool = typer.Option(True, help="finish the import after showing its report"),
    skip_invalid: bool = typer.Option(False, help="finish even if some rows have problems"),
) -> None:
    """Upload a CSV to the importer, show its report (every problem by row and column), then
    finish it with a progress bar until every valid row is a credential."""
    from uuid import UUID

    from rich.console import Console

    from credflow.importing import Endpoints, ImportFailedError, run_import, token_for
    from credflow_common.auth import AuthSettings

    host = RuntimeSettings().http_host
    endpoints = Endpoints(
        f"http://{host}:{_port_for(SERVICES['directory'])}",
        f"http://{host}:{_port_for(SERVICES['importer'])}",
    )
    console = Console()
    try:
        org_id = UUID(org)
        token = bearer or token_for(endpoints, org_id, as_, AuthSettings().jwt_secret)
        run_import(endpoints, org_id, token, file, finish=finish, skip_invalid=skip_invalid,
                   console=console)  # fmt: skip
    except ValueError as exc:
        raise typer.BadParameter(f"not a UUID: {org}", param_hint="--org") from exc
    except (ImportFailedError, httpx.HTTPError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


@app.command("services")
def list_services() -> None:
    """List every service with the URL it serves on."""
    host = RuntimeSettings().http_host
    for entry in SERVICES.values():
        typer.echo(f"{entry.name:<11} http://{host}:{_port_for(entry)}")
