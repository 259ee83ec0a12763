"""The README's walkthrough, pasted into bash block by block as a reader would, against every
service running as its own process, with the exports `credflow demo` prints."""

from __future__ import annotations

import asyncio
import re
import sys
import textwrap
import uuid
from collections.abc import Mapping
from pathlib import Path

import pytest

from credflow.services import SERVICES
from tests.e2e.system import running_system
from tests.infrastructure import Infrastructure, temporary_database

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]

# What a reader sees when each journey went as the README says (one fragment per step that
# matters), in the order of the README's journeys.
EXPECTED: list[tuple[str, ...]] = [
    (  # 1. a licence, validated, renewed
        '"scope":"all_workers"',
        '{"credential_type_name":"Forklift licence","state":"met"}',
        '{"version_number":2,"review":"pending"}',
        '{"version_number":1,"review":"verified"}',
    ),
    (  # 2. admin-managed
        '"admin_managed"',
        '{"status":403,"detail":"this organisation manages credentials for its workers',
        '"certification":{"number":"WC-20931","verification_url":null},"files":1}',
        "downloaded the file Riley uploaded",
        '{"status":"submitted","version":{"certification":{"number":"WC-20931",'
        '"verification_url":null},"files":0}}',
        '"self_service"',
    ),
    (  # 3. external certificate
        '{"status":"not_accepted","title":"Working at heights (TAFE)","counts_as":"',
        "Your External certificate was not accepted",
        '{"status":"verified","versions":["verified","not_accepted"]}',
    ),
    (  # 4. bulk import
        '{"row":4,"column":"issued_on","code":"invalid_date"}',
        '{"row":5,"column":"email","code":"unknown_user"}',
        '{"row":6,"column":"expires_on","code":"expires_before_issue"}',
        "2,media_file,media_missing,",
        '{"valid_rows":4,"rejected_rows":0,"problems":[]}',
        '{"rows_sent":4,"rows_applied":4,"rows_refused":0}',
        "Nina Northwind,Driver's licence,verified,",
        "Sid Sparks,Electrical licence,verified,2029-03-05",
    ),
    (  # 5. client viewer
        'verified: ["',
        'pending: ["Will Worker, Forklift licence"]',
        '"Electrical licence: required"',
        '"name":"Southbank Electrical"',
        '{"status":403,',
    ),
    (  # 6. reminders
        '"copy_manager":true',
        # 7 days from today in UTC: 6 in Sydney, the demo's time zone, after 13:00 UTC.
        "Your First aid certificate expires in ",
        "Your Electrical licence expired on",
        "Will Worker's First aid certificate expires in ",
        "Will Worker's Electrical licence expired on",
    ),
    (  # 7. subscriber: every kind of event the journeys caused, counted
        " credflow.credential.submitted.v2\n",
        " credflow.credential.validated.v1\n",
        " credflow.credential.rejected.v1\n",
        " credflow.credential.expired.v1\n",
        "expired on 2026",
    ),
]


def walkthrough() -> list[str]:
    """The walkthrough's shell blocks, as a reader copies them: the setup, then each journey."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Walkthrough") : text.index("### Services and topics")]
    blocks = re.findall(r"^( *)```sh\n(.*?)^\1```", section, re.DOTALL | re.MULTILINE)
    return [textwrap.dedent(body) for _, body in blocks]


async def paste(script: str, cwd: Path, env: Mapping[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", script, cwd=cwd, env=dict(env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=180)
    return output.decode()


async def test_every_journey_in_the_readme_runs_as_written(
    infra: Infrastructure, tmp_path: Path
) -> None:
    setup, *journeys = walkthrough()
    assert len(journeys) == len(EXPECTED), "one block per journey"
    unique = uuid.uuid4().hex[:12]
    async with (
        temporary_database(infra.database_url, f"readme_{unique}") as database_url,
        running_system(
            infra, database_url, f"readme{unique}.", tuple(SERVICES),
            CREDFLOW_REMINDER_INTERVAL_S="1", MAIL_API_URL=infra.mail_api_url,
        ) as system,
    ):  # fmt: skip
        demo = await paste(f"{sys.executable} -m credflow demo --no-data", REPO, system.env)
        exports = [line.strip() for line in demo.splitlines() if line.strip().startswith("export ")]
        assert len(exports) == 13, demo
        # The reader's shell sits at the repository's root; files they make stay in tmp_path.
        for name in (".venv", "contracts"):
            (tmp_path / name).symlink_to(REPO / name)
        prelude = "\n".join([*exports, setup])
        missing = []
        for number, (block, expected) in enumerate(zip(journeys, EXPECTED, strict=True), 1):
            output = await paste(f"{prelude}\n{block}", tmp_path, system.env)
            print(f"--- journey {number}\n{output}")  # shown by pytest when a test fails
            missing += [(number, fragment) for fragment in expected if fragment not in output]
            missing += [
                (number, f"no {failure!r}")
                for failure in ("jq: error", "command not found", "No such file", "parse error")
                if failure in output
            ]
        assert not missing, "the walkthrough's output lacks these (journey, fragment)"
