"""An erasure through the whole system, with the directory killed by a failpoint between two of
its steps and started again: the erasure carries on where it stopped, each step done once;
every service erases its copies and reports (the submission service the credential's files,
every object version; the review service the mails to and about the person; the reminder
service their schedule, settings and mails), and only then does the erasure complete, with a
receipt of what each deleted. The person's credential still counts in the views."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest
from minio import Minio

from credflow.services import SERVICES
from credflow_common.auth import PERSONAL_DATA_PERMISSION, issue_dev_token
from credflow_common.media import credential_prefix
from credflow_common.settings import InfraSettings
from credflow_contracts.ids import uuid7
from tests.e2e.journeys.conftest import PNG, Journeys, Tenant, with_file
from tests.e2e.journeys.test_j1_licence import queue_item
from tests.e2e.journeys.test_j4_bulk_import import HEADER
from tests.e2e.system import running_system
from tests.infrastructure import Infrastructure, temporary_database
from tests.polling import eventually

pytestmark = pytest.mark.e2e
ERASE = ["privacy:erase"]


def objects_under(prefix: str) -> list[tuple[str, str | None]]:
    infra = InfraSettings()
    client = Minio(infra.s3_endpoint_url.removeprefix("http://"), access_key=infra.s3_access_key,
                   secret_key=infra.s3_secret_key, secure=False)  # fmt: skip
    return [
        (item.object_name or "", item.version_id)
        for item in client.list_objects(
            infra.s3_bucket, prefix=prefix, recursive=True, include_version=True
        )
    ]


async def test_an_erasure_killed_between_steps_completes_everywhere_after_a_restart(
    infra: Infrastructure,
) -> None:
    unique = uuid.uuid4().hex[:12]
    async with (
        temporary_database(infra.database_url, f"erase_{unique}") as database_url,
        running_system(
            infra, database_url, f"e{unique}.", tuple(SERVICES),
            CREDFLOW_FAILPOINTS="erasure.after_step@2",
        ) as system,
        httpx.AsyncClient(timeout=30) as client,
    ):  # fmt: skip
        journeys = Journeys(system, None, client)  # type: ignore[arg-type]  # no subscriber
        org: Tenant = await journeys.organisation("Erase Everywhere")
        licence = await org.post("directory", "/credential-types", org.admin,
                                 name="Licence", validation_required=True)  # fmt: skip
        mia = await org.person("Mia Manager", ["manager"])
        eve = await org.person("Eve Eraser", ["admin"], permissions=ERASE)
        pat = await org.person("Pat Private", ["worker"], manager_id=mia.user_id)
        await org.accepted("PUT", "reminder", f"/users/{pat.user_id}/notification-settings",
                           pat, 200, json={"lead_days": [30, 7]})  # fmt: skip
        fields = {"credential_type_id": licence["credential_type_id"],
                  "issued_on": "2026-01-05", "expires_on": "2027-01-05"}  # fmt: skip
        submitted = await org.accepted("POST", "submission", "/credentials", pat,
                                       **with_file(fields, "pat-licence.png", PNG))  # fmt: skip
        credential_id = submitted["credential_id"]
        item = await queue_item(org, mia, credential_id, 1)
        await org.post("review", f"/reviews/{item['review_id']}/reject", mia, expect=200,
                       comment="The photo of Pat Private is blurred.")  # fmt: skip
        await org.post("directory", "/credential-types", org.admin, name="White card")
        row = f"{pat.email},White card,01/02/2026,01/02/2029,WC-PAT-77,Safe Co,Pat's card,"
        csv_file = "\n".join([HEADER, row]).encode()
        upload: dict[str, Any] = {"files": [("file", ("crew.csv", csv_file, "text/csv"))]}
        imported = await org.call("POST", "importer", "/imports", org.admin, 201, **upload)
        import_path = f"/imports/{imported['import_id']}"

        report: dict[str, Any] = {}

        async def valid() -> bool:
            report.update(await org.call("PUT", "importer", f"{import_path}/file", org.admin,
                                         **upload))  # fmt: skip
            return bool(report["valid_rows"] == 1)

        try:
            await eventually(valid, timeout_s=30)
        except TimeoutError:
            raise AssertionError(f"the import row stayed invalid: {report}") from None
        await org.call("POST", "importer", f"{import_path}/finish", org.admin, 202)

        async def import_done() -> bool:
            return bool((await org.get("importer", import_path, org.admin))["status"]
                        == "completed")  # fmt: skip

        await eventually(import_done, timeout_s=60)
        prefix = credential_prefix(org.id, uuid.UUID(credential_id))
        assert objects_under(prefix), "the file is in the bucket"

        def mails_of_pat() -> int:
            with psycopg.connect(database_url) as conn:
                row = conn.execute(
                    "SELECT (SELECT count(*) FROM review.mail_outbox WHERE people @> ARRAY[%s]"
                    "::uuid[]) + (SELECT count(*) FROM reminder.mail_outbox"
                    " WHERE people @> ARRAY[%s]::uuid[])",
                    (pat.user_id, pat.user_id),
                ).fetchone()
            return int(row[0]) if row else 0

        async def mailed() -> bool:
            return mails_of_pat() >= 2  # the review request to Mia, the rejection to Pat

        await eventually(mailed, timeout_s=30)

        keys = {"Authorization": "Bearer " + issue_dev_token(
            uuid7(), UUID(int=0), [], [PERSONAL_DATA_PERMISSION])}  # fmt: skip
        key_path = org.url("directory", f"/users/{pat.user_id}/data-key")
        assert (await client.get(key_path, headers=keys)).status_code == 200, "pat has a key"

        asked = await org.call("POST", "directory", f"/users/{pat.user_id}/erasure", eve, 202)
        erasure_id = asked["erasure_id"]
        killed = system.processes["directory"]
        assert await asyncio.to_thread(killed.wait, 60) != 0, "the failpoint killed it"
        with psycopg.connect(database_url) as conn:
            steps = conn.execute("SELECT step FROM directory.erasure_steps").fetchall()
        assert [s for (s,) in steps] == ["deactivated", "key_destroyed"], "stopped half-way"

        system.env.pop("CREDFLOW_FAILPOINTS")
        system.start("directory")
        await system.ready("directory")
        done: dict[str, Any] = {}

        async def completed() -> bool:
            done.update(await org.get("directory", f"/erasures/{erasure_id}", eve))
            return bool(done.get("status") == "completed")

        await eventually(completed, timeout_s=60)
        assert [s["step"] for s in done["steps"]] == [
            "deactivated", "key_destroyed", "personal_fields_replaced", "announced"
        ]  # fmt: skip
        receipt = done["receipt"]
        assert receipt["destroyed"][0]["existed"] is True, "the key was destroyed before the kill"
        assert set(receipt["replaced"][0]["fields"]) >= {"name", "email"}
        deleted = {d["service"]: d["counts"] for d in receipt["deleted"]}
        assert set(deleted) == {"submission", "review", "importer", "reminder"}
        assert deleted["submission"] == {"credentials": 2, "files": 1}, "the import's too"
        assert deleted["importer"] == {"import_rows": 1, "import_file_names": 0}
        assert deleted["review"]["mails"] >= 2
        assert deleted["reminder"]["notification_settings"] == 1
        assert deleted["reminder"]["reminders"] == 2, "both credentials left the schedule"

        assert (await client.get(key_path, headers=keys)).status_code == 410
        assert objects_under(prefix) == [], "no object and no object version is left"
        assert mails_of_pat() == 0
        with psycopg.connect(database_url) as conn:
            left = conn.execute(
                "SELECT (SELECT count(*) FROM reminder.schedule WHERE holder_id = %s)"
                " + (SELECT count(*) FROM reminder.notification_settings WHERE user_id = %s)",
                (pat.user_id, pat.user_id),
            ).fetchone()
            import_rows = conn.execute(
                "SELECT certification_number, issuer, notes FROM importer.import_rows"
                " WHERE holder_id = %s", (pat.user_id,),
            ).fetchall()  # fmt: skip
        assert left == (0,)
        assert import_rows == [(None, None, None)], "no number, issuer or notes"

        async def still_counted() -> bool:
            detail = await org.view(f"/credentials/{credential_id}", org.admin)
            return bool(detail["holder_name"] == "Erased person")

        await eventually(still_counted, timeout_s=30)
