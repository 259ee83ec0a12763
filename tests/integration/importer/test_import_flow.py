"""Bulk import through the HTTP APIs, on real PostgreSQL and Kafka: the report of every
problem, re-upload, finish exactly once (pressed twice at once), progress, ImportCompleted, and
the credentials in the worker view; bad files write nothing."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from credflow_contracts.events.imports import ImportCompleted
from credflow_contracts.topics import IMPORTS
from credflow_importer.csvfile import MAX_ROWS
from tests.infrastructure import Infrastructure
from tests.integration.directory.conftest import token
from tests.integration.importer.conftest import ImportOrg, ImportStack, build_import_org
from tests.integration.kafka_support import read_topic
from tests.polling import eventually

FILES = Path(__file__).resolve().parents[2] / "data" / "imports"
HEADER = "email,credential_type,issued_on,expires_on,certification_number,issuer,notes"


def mixed_file(world: ImportOrg) -> bytes:
    domain = world.people["jo"]["email"].split("@")[1]
    return "\n".join([
        HEADER,
        f"jo@{domain},Electrical licence,15/03/2026,15/03/2029,EL-1,Energy Safe,",  # 2 ok
        f"SAM@{domain},first aid,01/02/2026,,,,",  # 3 ok: case-insensitive, default validity
        f"nobody@{domain},White card,01/02/2026,,,,",  # 4 unknown user
        f"old@{domain},White card,01/02/2026,,,,",  # 5 deactivated
        f"sam@{domain},Plumbing,01/02/2026,,,,",  # 6 unknown type
        f"sam@{domain},Old ticket,01/02/2026,01/02/2027,,,",  # 7 archived
        f"sam@{domain},White card,2026-02-01,,,,",  # 8 invalid date
        f"sam@{domain},Electrical licence,01/02/2026,01/01/2026,,,",  # 9 expires before issue
        f"jo@{domain},Electrical licence,15/03/2026,15/03/2029,EL-1,Energy Safe,again",  # 10 dup
        f"sam@{domain},White card,01/02/2026,,,,\"quoted, with comma\"",  # 11 ok
        "",
    ]).encode()  # fmt: skip


async def visible_in_worker_view(stack: ImportStack, world: ImportOrg) -> list[dict[str, Any]]:
    response = await stack.views.get(
        f"/organisations/{world.org.id}/credentials",
        params={"limit": 500},
        headers=world.org.admin,
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_mixed_file_is_reported_then_its_valid_rows_become_credentials_once(
    stack: ImportStack, infra: Infrastructure, topic_prefix: str
) -> None:
    world = await build_import_org(stack, "Mixed")
    report = await stack.upload(world.org, mixed_file(world))
    assert report["status"] == "draft"
    assert (report["rows_total"], report["valid_rows"], report["rejected_rows"]) == (10, 3, 7)
    assert [(p["row"], p["column"], p["code"]) for p in report["problems"]] == [
        (4, "email", "unknown_user"),
        (5, "email", "user_deactivated"),
        (6, "credential_type", "unknown_credential_type"),
        (7, "credential_type", "credential_type_archived"),
        (8, "issued_on", "invalid_date"),
        (9, "expires_on", "expires_before_issue"),
        (10, None, "duplicate_row"),
    ]
    assert report["problems"][4]["message"] == (
        "'2026-02-01' is not a date in your date format, DD/MM/YYYY"
    )
    assert report["approval_required"] is True  # the electrical licence is reviewed
    path = f"/{report['import_id']}"
    download = await stack.importer.get(
        f"/organisations/{world.org.id}/imports{path}/report.csv", headers=world.org.admin
    )
    assert download.status_code == 200, download.text
    assert download.headers["content-type"].startswith("text/csv")
    [header, *lines] = list(csv.reader(io.StringIO(download.text)))
    assert header == ["row", "column", "code", "message"]
    assert lines == [
        [str(p["row"] or ""), p["column"] or "", p["code"], p["message"]]
        for p in report["problems"]
    ]

    pressed = await asyncio.gather(
        stack.call("POST", world.org, f"{path}/finish", expect=202),
        stack.call("POST", world.org, f"{path}/finish", expect=202),
    )
    assert {answer["status"] for answer in pressed} == {"finishing"}

    done: dict[str, Any] = {}

    async def completed() -> bool:
        done.update(await stack.call("GET", world.org, path))
        return bool(done["status"] == "completed")

    await eventually(completed, timeout_s=60)
    assert done["progress"] == {"rows_sent": 3, "rows_applied": 3, "rows_refused": 0}
    await stack.call("POST", world.org, f"{path}/finish", expect=202)  # a third press: nothing

    async def three_visible() -> bool:
        return len(await visible_in_worker_view(stack, world)) == 3

    await eventually(three_visible, timeout_s=60)
    items = await visible_in_worker_view(stack, world)
    assert sorted((i["holder_id"], i["credential_type_id"]) for i in items) == sorted([
        (world.people["jo"]["user_id"], world.types["electrical"]),
        (world.people["sam"]["user_id"], world.types["first_aid"]),
        (world.people["sam"]["user_id"], world.types["white_card"]),
    ])  # fmt: skip
    await asyncio.sleep(1)  # nothing more arrives (no second credential per row)
    assert len(await visible_in_worker_view(stack, world)) == 3
    async with stack.views_context.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT credentials_created, rows_total FROM imports WHERE import_id = %s",
            (report["import_id"],),
        )
        assert await cursor.fetchone() == (3, 10)  # ImportCompleted reached the views
    # A subscriber sees the import's stream from version 1, without gaps: its one public
    # event has a stream of its own (the commands' stream stays on the internal topic).
    landed = await read_topic(infra.kafka_bootstrap_servers, topic_prefix + IMPORTS, 1)
    [completion] = [r for r in landed if isinstance(r.envelope.event, ImportCompleted)]
    assert completion.headers["ce_streamid"] == f"import-completed-{report['import_id']}"
    assert completion.headers["ce_streamversion"] == "1"


@pytest.mark.parametrize(
    ("file_name", "code"),
    [
        ("missing_column.csv", "missing_column"),
        ("unknown_column.csv", "unknown_column"),
        ("duplicated_column.csv", "duplicate_column"),
        ("not_utf8.csv", "not_utf8"),
        ("random_bytes.bin", "not_utf8"),
    ],
)
async def test_a_rejected_file_is_reported_and_cannot_be_finished(
    stack: ImportStack, file_name: str, code: str
) -> None:
    world = await build_import_org(stack, "Rejects")
    report = await stack.upload(world.org, (FILES / file_name).read_bytes())
    assert report["file_rejected"] is True
    assert code in [p["code"] for p in report["problems"]]
    assert report["valid_rows"] == 0
    await stack.call("POST", world.org, f"/{report['import_id']}/finish", expect=409)
    assert (await stack.call("GET", world.org, f"/{report['import_id']}"))["status"] == "draft"


async def test_twenty_thousand_and_one_rows_are_refused_whole_and_nothing_is_written(
    stack: ImportStack,
) -> None:
    world = await build_import_org(stack, "Toomany")
    email = world.people["jo"]["email"]
    raw = (HEADER + "\n" + f"{email},White card,01/01/2020,,,,\n" * (MAX_ROWS + 1)).encode()
    report = await stack.upload(world.org, raw)
    assert [(p["row"], p["code"]) for p in report["problems"]] == [(None, "too_many_rows")]
    assert report["problems"][0]["message"] == (
        "the file has 20,001 rows; at most 20,000 per import: split it"
    )
    await stack.call("POST", world.org, f"/{report['import_id']}/finish", expect=409)
    async with stack.importer_context.pool.connection() as conn:
        cursor = await conn.execute("SELECT count(*) FROM import_rows")
        assert await cursor.fetchone() == (0,)
        cursor = await conn.execute("SELECT count(*) FROM events")
        assert await cursor.fetchone() == (0,)  # no command was ever appended


async def test_uploading_again_replaces_the_report_until_finish(stack: ImportStack) -> None:
    world = await build_import_org(stack, "Again")
    first = await stack.upload(world.org, (FILES / "missing_column.csv").read_bytes())
    path = f"/{first['import_id']}"
    email = world.people["wes"]["email"]
    fixed = f"{HEADER}\n{email},White card,03/15/2026,,,,\n".encode()  # Wes reads MM/DD/YYYY
    second = await stack.call(
        "PUT", world.org, f"{path}/file", files={"file": ("fixed.csv", fixed, "text/csv")}
    )
    assert (second["uploads"], second["file_name"], second["date_format"]) == (
        2, "fixed.csv", "DD/MM/YYYY",  # the uploader (the admin) reads DD/MM/YYYY
    )  # fmt: skip
    assert [p["code"] for p in second["problems"]] == ["invalid_date"]
    wes = world.as_("wes")
    forbidden = await stack.importer.put(
        f"/organisations/{world.org.id}/imports{path}/file",
        files={"file": ("fixed.csv", fixed, "text/csv")},
        headers=wes,
    )
    assert forbidden.status_code == 403  # a manager does not import
    good = f"{HEADER}\n{email},White card,15/03/2026,,,,\n".encode()
    third = await stack.call(
        "PUT", world.org, f"{path}/file", files={"file": ("good.csv", good, "text/csv")}
    )
    assert (third["problems"], third["valid_rows"]) == ([], 1)
    await stack.call("POST", world.org, f"{path}/finish", expect=202)
    refused = await stack.call(
        "PUT", world.org, f"{path}/file", expect=409, files={"file": ("x.csv", good, "text/csv")}
    )
    assert "no longer change" in refused["detail"]


async def test_the_template_uses_the_uploaders_date_format_and_imports_are_tenant_scoped(
    stack: ImportStack,
) -> None:
    world = await build_import_org(stack, "Template")
    response = await stack.importer.get(
        f"/organisations/{world.org.id}/imports/template", headers=world.org.admin
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "15/03/2026" in response.text
    assert "Dates are read as DD/MM/YYYY" in response.text
    report = await stack.upload(world.org, response.content)
    # The guide rows are skipped; the example row names a person this organisation lacks
    # (its type, Electrical licence, exists here).
    assert [(p["row"], p["code"]) for p in report["problems"]] == [(2, "unknown_user")]
    other = await build_import_org(stack, "Elsewhere")
    for method, path in (
        ("GET", f"/{report['import_id']}"),
        ("POST", f"/{report['import_id']}/finish"),
    ):
        response = await stack.importer.request(
            method, f"/organisations/{world.org.id}/imports{path}", headers=other.org.admin
        )
        assert response.status_code == 404
    worker = await stack.importer.get(
        f"/organisations/{world.org.id}/imports/{report['import_id']}", headers=world.as_("jo")
    )
    assert worker.status_code == 403


async def test_the_uploader_approves_the_whole_import_in_bulk(stack: ImportStack) -> None:
    world = await build_import_org(stack, "Approve")
    org = world.org
    staff = await stack.post(
        org, "/users", email="ula@approve.test", name="Ula", roles=["worker"],
        permissions=["users:manage"],
    )  # fmt: skip
    uploader = token(org.id, UUID(staff["user_id"]), "worker", permissions=["users:manage"])
    domain = "approve.test"
    report = await stack.upload(
        org,
        "\n".join([
            HEADER,
            f"jo@{domain},Electrical licence,15/03/2026,15/03/2029,EL-1,,",
            f"sam@{domain},Electrical licence,15/03/2026,15/03/2029,EL-2,,",
            f"wes@{domain},Electrical licence,15/03/2026,15/03/2029,EL-3,,",
        ]).encode(),
        as_=uploader,
    )  # fmt: skip
    assert report["valid_rows"] == 3, report["problems"]
    import_id = report["import_id"]
    await stack.call("POST", org, f"/{import_id}/finish", expect=202, as_=uploader)

    async def routed() -> bool:
        items = await stack.services.queue(org, org.admin, import_id=import_id, limit=10)
        return len(items) == 3

    await eventually(routed, timeout_s=60)  # the rows wait with the organisation's admins

    async def bulk_approve(as_: dict[str, str], expect: int = 200) -> dict[str, Any]:
        response = await stack.services.review.post(
            f"/organisations/{org.id}/reviews/bulk-approve",
            json={"import_id": import_id, "comment": "checked the paper copies"},
            headers=as_,
        )
        assert response.status_code == expect, response.text
        body: dict[str, Any] = response.json()
        return body

    refused = await bulk_approve(world.as_("jo"), expect=403)  # neither uploader nor reviewer
    assert "uploader" in refused["detail"]
    approved = await bulk_approve(uploader)
    assert (approved["approved"], approved["failed"]) == (3, 0)

    async def all_verified() -> bool:
        items = await visible_in_worker_view(stack, world)
        return sorted(i["status"] for i in items) == ["verified"] * 3

    await eventually(all_verified, timeout_s=60)
    assert await stack.services.queue(org, org.admin, import_id=import_id) == []


async def test_rows_that_turn_invalid_before_they_are_applied_are_refused_and_reported(
    stack: ImportStack,
) -> None:
    world = await build_import_org(stack, "Changed")
    org, domain = world.org, "changed.test"
    report = await stack.upload(
        org,
        "\n".join([
            HEADER,
            f"jo@{domain},Electrical licence,15/03/2026,15/03/2029,EL-1,,",
            f"sam@{domain},First aid,15/03/2026,,,,",
            f"wes@{domain},White card,15/03/2026,,,,",
        ]).encode(),
    )  # fmt: skip
    assert (report["valid_rows"], report["problems"]) == (3, [])
    # Between the check and finish, Sam leaves and the White card is archived.
    for path in (
        f"/users/{world.people['sam']['user_id']}/deactivate",
        f"/credential-types/{world.types['white_card']}/archive",
    ):
        response = await stack.services.directory.client.post(org.url(path), headers=org.admin)
        assert response.status_code == 200, response.text
        await stack.replicated(response.json())
    path = f"/{report['import_id']}"
    await stack.call("POST", org, f"{path}/finish", expect=202)

    done: dict[str, Any] = {}

    async def completed() -> bool:
        done.update(await stack.call("GET", org, path))
        return bool(done["status"] == "completed")

    await eventually(completed, timeout_s=60)
    assert done["progress"] == {"rows_sent": 3, "rows_applied": 1, "rows_refused": 2}
    assert done["refused"] == [
        {"row": 3, "column": "email", "message": "the holder is deactivated"},
        {
            "row": 4,
            "column": "credential_type",
            "message": "this credential type is archived and accepts no new credentials",
        },
    ]

    async def completion_projected() -> bool:
        async with stack.views_context.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT credentials_created FROM imports WHERE import_id = %s",
                (report["import_id"],),
            )
            return await cursor.fetchone() == (1,)

    await eventually(completion_projected, timeout_s=60)
    items = await visible_in_worker_view(stack, world)
    assert [(i["holder_id"], i["credential_type_id"]) for i in items] == [
        (world.people["jo"]["user_id"], world.types["electrical"])
    ]
