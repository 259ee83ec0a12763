"""`credflow import FILE --org ORG --as USER`: upload a CSV to the importer, show its report,
then finish it with a progress bar (rows sent, rows applied) until ImportCompleted."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from credflow_common.auth import issue_dev_token

SHOWN_PROBLEMS = 50


class ImportFailedError(Exception):
    pass


@dataclass(frozen=True)
class Endpoints:
    directory: str
    importer: str


def token_for(endpoints: Endpoints, org: UUID, who: str, secret: str) -> str:
    """A development token for `who` (a user id or email) with their own roles and
    permissions, read from the directory (the same secret as `credflow token`)."""
    lookup = issue_dev_token(UUID(int=0), org, ["admin"], [], secret=secret)
    with httpx.Client(base_url=endpoints.directory, timeout=30) as client:
        params: dict[str, str | int] | None = {"q": who, "limit": 1000} if "@" in who else None
        path = f"/organisations/{org}/users" + ("" if params else f"/{who}")
        response = client.get(path, params=params, headers={"Authorization": f"Bearer {lookup}"})
    if response.status_code != 200:
        raise ImportFailedError(f"cannot find user {who!r} in organisation {org}: {response.text}")
    body = response.json()
    users = body.get("items", [body]) if params else [body]
    wanted = who.lower()
    user = next((u for u in users if wanted in (u["user_id"], u["email"].lower())), None)
    if user is None:
        raise ImportFailedError(f"no user {who!r} in organisation {org}")
    return issue_dev_token(
        UUID(user["user_id"]), org, user["roles"], user.get("permissions", []), secret=secret
    )


def run_import(
    endpoints: Endpoints,
    org: UUID,
    token: str,
    file: Path,
    *,
    finish: bool,
    skip_invalid: bool,
    console: Console,
    poll_s: float = 0.25,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    base = f"/organisations/{org}/imports"
    with httpx.Client(base_url=endpoints.importer, headers=headers, timeout=120) as client:
        response = client.post(base, files={"file": (file.name, file.read_bytes(), "text/csv")})
        if response.status_code != 201:
            raise ImportFailedError(f"upload refused ({response.status_code}): {response.text}")
        report: dict[str, Any] = response.json()
        show_report(report, console)
        if report["file_rejected"] or report["valid_rows"] == 0:
            raise ImportFailedError("nothing to import: fix the file and run again")
        if report["problems"] and not skip_invalid:
            raise ImportFailedError(
                f"{report['rejected_rows']} row(s) have problems: fix them, or pass"
                " --skip-invalid to import the valid rows only"
            )
        if not finish:
            return report
        path = f"{base}/{report['import_id']}"
        response = client.post(f"{path}/finish")
        if response.status_code != 202:
            raise ImportFailedError(f"finish refused ({response.status_code}): {response.text}")
        return follow(client, path, report["valid_rows"], console, poll_s)


def show_report(report: dict[str, Any], console: Console) -> None:
    console.print(
        f"import {report['import_id']} ({report['file_name']}, dates as"
        f" {report['date_format']}): {report['rows_total']} rows, {report['valid_rows']} valid,"
        f" {report['rejected_rows']} with problems"
    )
    if report["problems"]:
        table = Table("row", "column", "code", "problem")
        for problem in report["problems"][:SHOWN_PROBLEMS]:
            table.add_row(
                str(problem["row"] or "file"), problem["column"] or "", problem["code"],
                problem["message"],
            )  # fmt: skip
        console.print(table)
        hidden = len(report["problems"]) - SHOWN_PROBLEMS
        if hidden > 0:
            console.print(f"... and {hidden} more (GET the import for all of them)")
    missing = report["media"]["rows_missing"]
    if missing and not report["media"]["optional"]:
        console.print(f"{len(missing)} row(s) of types that require media have no file yet")


def follow(
    client: httpx.Client, path: str, rows: int, console: Console, poll_s: float
) -> dict[str, Any]:
    """Poll the import until it is completed, with one bar for rows sent to the submission
    service and one for rows applied (credentials recorded, or rows refused by then)."""
    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console,
    ) as progress:  # fmt: skip
        sent = progress.add_task("rows sent", total=rows)
        applied = progress.add_task("rows applied", total=rows)
        while True:
            response = client.get(path)
            response.raise_for_status()
            state: dict[str, Any] = response.json()
            progress.update(sent, completed=state["progress"]["rows_sent"])
            settled = state["progress"]["rows_applied"] + state["progress"]["rows_refused"]
            progress.update(applied, completed=settled)
            if state["status"] == "completed":
                break
            time.sleep(poll_s)
    console.print(
        f"import {state['import_id']} completed: {state['progress']['rows_applied']} credentials"
    )
    if state["refused"]:
        console.print(
            f"{len(state['refused'])} row(s) were refused when applied (they changed after the"
            " check):"
        )
        for refusal in state["refused"][:SHOWN_PROBLEMS]:
            console.print(f"  row {refusal['row']} ({refusal['column']}): {refusal['message']}")
    return state
