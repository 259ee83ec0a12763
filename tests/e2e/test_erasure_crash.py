"""An erasure through the whole system, with the directory killed by a failpoint between two of
its steps and started again: the erasure carries on where it stopped, each step done once;
the person's markers (in every personal field and their file's bytes) are then found nowhere:
not in a pg_dump of the database, on any Kafka topic, in any object version, in any log;
every service erases its copies and reports (the submission service the credential's files,
every object version; the review service the mails to and about the person; the reminder
service their schedule, settings and mails, one of them a reminder that named them), and only
then does the erasure complete, with a receipt of what each deleted. The person's credentials
still count in the views, and a rebuild of the views after the erasure equals the live
views."""

from __future__ import annotations

import asyncio
import glob
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from minio import Minio

from credflow.services import SERVICES
from credflow_common.auth import PERSONAL_DATA_PERMISSION, issue_dev_token
from credflow_common.kafka import topic_partitions
from credflow_common.media import credential_prefix
from credflow_common.settings import InfraSettings
from credflow_contracts.ids import uuid7
from tests.chaos import invariants
from tests.e2e.journeys.conftest import PNG, Journeys, Tenant, with_file
from tests.e2e.journeys.test_j1_licence import queue_item
from tests.e2e.journeys.test_j4_bulk_import import HEADER
from tests.e2e.system import running_system
from tests.infrastructure import Infrastructure, temporary_database
from tests.polling import eventually

pytestmark = pytest.mark.e2e
ERASE = ["privacy:erase"]


MARK = f"zq{uuid.uuid4().hex[:8]}"
"""In every personal field of the person erased (and their file's bytes): found nowhere after."""
MARKED_PNG = PNG + MARK.encode() + b"filebytes"


def minio() -> Minio:
    infra = InfraSettings()
    return Minio(infra.s3_endpoint_url.removeprefix("http://"), access_key=infra.s3_access_key,
                 secret_key=infra.s3_secret_key, secure=False)  # fmt: skip


def marks_in_database(database_url: str) -> list[str]:
    dump = subprocess.run([pg_dump(), "--data-only", database_url], capture_output=True,
                          check=True, text=True).stdout  # fmt: skip
    return [line[:200] for line in dump.splitlines() if MARK in line]


def pg_dump() -> str:
    found = shutil.which("pg_dump") or next(iter(sorted(glob.glob(
        "/usr/lib/postgresql/*/bin/pg_dump"))), None)  # fmt: skip
    assert found, "pg_dump (Debian's postgresql-client) is installed with the infrastructure"
    return found


async def marks_on_kafka(prefix: str, read: list[int] | None = None) -> list[str]:
    bootstrap = InfraSettings().kafka_bootstrap_servers
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        topics = [t for t in await consumer.topics() if t.startswith(prefix)]
        partitions = []
        for topic in topics:
            partitions += [
                TopicPartition(topic, p) for p in await topic_partitions(bootstrap, topic)
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        hits: list[str] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < end for tp, end in ends.items()])

        while await behind():
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                for record in records:
                    if read is not None:
                        read.append(1)
                    raw = (record.key or b"") + (record.value or b"") + b"".join(
                        value or b"" for _, value in record.headers)  # fmt: skip
                    if MARK.encode() in raw:
                        hits.append(f"{tp.topic}@{record.offset}")
        return hits
    finally:
        await consumer.stop()


def marks_in_objects(prefix: str) -> list[str]:
    client, bucket = minio(), InfraSettings().s3_bucket
    hits = []
    for item in client.list_objects(bucket, prefix=prefix, recursive=True, include_version=True):
        name = item.object_name or ""
        response = client.get_object(bucket, name, version_id=item.version_id)
        try:
            if MARK in name or MARK.encode() in response.read():
                hits.append(name)
        finally:
            response.close()
            response.release_conn()
    return hits


def marks_in_logs(log_dir: Path) -> list[str]:
    return [f"{log.name}: {line[:200]}" for log in sorted(log_dir.glob("*.log"))
            for line in log.read_text(errors="replace").splitlines() if MARK in line]  # fmt: skip


def objects_under(prefix: str) -> list[tuple[str, str | None]]:
    infra = InfraSettings()
    client = minio()
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
            CREDFLOW_FAILPOINTS="erasure.after_step@2", CREDFLOW_REMINDER_INTERVAL_S="0.5",
        ) as system,
        httpx.AsyncClient(timeout=30) as client,
    ):  # fmt: skip
        journeys = Journeys(system, None, client)  # type: ignore[arg-type]  # no subscriber
        org: Tenant = await journeys.organisation("Erase Everywhere")
        licence = await org.post("directory", "/credential-types", org.admin,
                                 name="Licence", validation_required=True)  # fmt: skip
        mia = await org.person("Mia Manager", ["manager"])
        eve = await org.person("Eve Eraser", ["admin"], permissions=ERASE)
        pat = await org.person(f"Pat {MARK}name", ["worker"], manager_id=mia.user_id)
        await org.accepted("PUT", "reminder", f"/users/{pat.user_id}/notification-settings",
                           pat, 200, json={"lead_days": [30, 7], "copy_manager": True})  # fmt: skip
        fields = {"credential_type_id": licence["credential_type_id"],
                  "issued_on": "2026-01-05", "expires_on": "2027-01-05",
                  "title": f"{MARK}title", "notes": f"{MARK}notes",
                  "certification": {"number": f"{MARK}number"},
                  "issuer": {"name": "Roads", "registration_id": f"{MARK}reg"}}  # fmt: skip
        marked_file = with_file(fields, f"{MARK}file.png", MARKED_PNG)
        submitted = await org.accepted("POST", "submission", "/credentials", pat, **marked_file)
        credential_id = submitted["credential_id"]
        media_path = f"/credentials/{credential_id}/media/{submitted['media'][0]['media_id']}/url"
        link = await org.get("submission", media_path, pat)
        assert (await client.get(link["url"])).content == MARKED_PNG, "downloaded"
        item = await queue_item(org, mia, credential_id, 1)
        await org.post("review", f"/reviews/{item['review_id']}/reject", mia, expect=200,
                       comment=f"The photo is blurred {MARK}comment")  # fmt: skip
        first_aid = await org.post("directory", "/credential-types", org.admin,
                                   name="First aid", validation_required=False)  # fmt: skip
        soon = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
        await org.accepted("POST", "submission", "/credentials", pat, json={
            "credential_type_id": first_aid["credential_type_id"], "issued_on": "2026-01-05",
            "expires_on": soon, "title": f"{MARK}aidtitle"})  # fmt: skip
        await org.post("directory", "/credential-types", org.admin, name="White card")
        row = (f"{pat.email},White card,01/02/2026,01/02/2029,{MARK}rownumber,Safe Co,"
               f"{MARK}rownotes,")  # fmt: skip
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

        def mails_of_pat() -> tuple[int, int]:
            """Mails to or about Pat in the review and the reminder services' outboxes."""
            with psycopg.connect(database_url) as conn:
                row = conn.execute(
                    "SELECT (SELECT count(*) FROM review.mail_outbox WHERE people @> ARRAY[%s]"
                    "::uuid[]), (SELECT count(*) FROM reminder.mail_outbox"
                    " WHERE people @> ARRAY[%s]::uuid[])",
                    (pat.user_id, pat.user_id),
                ).fetchone()
            return (int(row[0]), int(row[1])) if row else (0, 0)

        async def mailed() -> bool:
            review, reminder = mails_of_pat()
            # the review request to Mia and the rejection to Pat; the First aid's reminder to
            # Pat and its copy to Mia, which names Pat
            return review >= 2 and reminder >= 2

        await eventually(mailed, timeout_s=30)
        reminded = f"Pat {MARK}name's First aid expires in 7 days"
        assert [s for s in await org.mail_subjects(mia, 2) if s.startswith(reminded)], (
            "a reminder mail about Pat went out"
        )

        assert marks_in_database(database_url), "the scan sees Pat in the views and replicas"
        assert marks_in_objects(f"organisations/{org.id}/"), "and in their file"
        records_read: list[int] = []
        assert await marks_on_kafka(f"e{unique}.", records_read) == [], "sealed on every topic"
        assert len(records_read) >= 10, "the scan reads the topics"

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
        assert deleted["submission"] == {"credentials": 3, "files": 1}, "the import's too"
        assert deleted["importer"] == {"import_rows": 1, "import_file_names": 0, "files": 0}
        assert deleted["review"]["mails"] >= 2
        assert deleted["reminder"]["notification_settings"] == 1
        assert deleted["reminder"]["reminders"] == 3, "every credential left the schedule"
        assert deleted["reminder"]["reminders_sent"] >= 2, "to Pat, and to Mia about Pat"
        assert deleted["reminder"]["mails"] >= 2

        assert (await client.get(key_path, headers=keys)).status_code == 410
        assert objects_under(prefix) == [], "no object and no object version is left"
        assert mails_of_pat() == (0, 0)
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
        await invariants.views_equal_a_rebuild(system)  # the erased person forgotten there too
        await asyncio.sleep(2)  # the last batches' lines reach the logs
        found = {
            "the database (pg_dump, every schema)": marks_in_database(database_url),
            "Kafka (every topic, from the beginning)": await marks_on_kafka(f"e{unique}."),
            "the object store (every object version)": marks_in_objects(f"organisations/{org.id}/"),
            "the services' logs": marks_in_logs(system.log_dir),
        }
    assert {where: hits for where, hits in found.items() if hits} == {}, "nothing of Pat is left"
