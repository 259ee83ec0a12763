"""Journey 4: a bulk import. The admin downloads the template, uploads a CSV with errors, reads
the report (also as CSV), fixes the file and uploads it again, adds the files of some rows and
makes media optional for the rest, finishes, and approves the whole import in bulk; the
credentials are verified in the views and in their CSV export."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.e2e.journeys.conftest import PDF, Journeys, Person, Tenant
from tests.polling import eventually

HEADER = "email,credential_type,issued_on,expires_on,certification_number,issuer,notes,media_file"


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def download(org: Tenant, service: str, path: str, as_: Person) -> str:
    response = await org.client.get(org.url(service, path), headers=as_.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return response.text


async def test_bulk_import_fixed_reuploaded_finished_and_approved(journeys: Journeys) -> None:
    org = await journeys.organisation("Import Journey", default_date_format="DD/MM/YYYY")
    admin = org.admin
    for name, rules in (("Forklift licence", {"media_required": True}), ("White card", {})):
        await org.post(
            "directory", "/credential-types", admin, name=name,
            validation_required=True, default_validity_months=36, **rules,
        )  # fmt: skip
    jo, sam, kim = [await org.person(name, ["worker"]) for name in ("Jo", "Sam", "Kim")]

    template = rows_of(await download(org, "importer", "/imports/template", admin))
    assert ",".join(template[0]) == HEADER

    def file(*rows: str) -> dict[str, Any]:
        raw = "\n".join([HEADER, *rows]).encode()
        return {"files": [("file", ("crew.csv", raw, "text/csv"))]}

    with_errors = file(
        f"{jo.email},Forklift licence,01/03/2026,,FL-1,,,jo-forklift.pdf",
        f"{sam.email},Forklift licence,02/03/2026,,FL-2,,,sam-forklift.pdf",
        f"{kim.email},White card,2026-03-02,,WC-3,,,",
        f"nobody@{org.domain},White card,02/03/2026,,WC-4,,,",
        f"{kim.email},Forklift licence,05/03/2026,01/03/2026,FL-5,,,kim-forklift.pdf",
    )
    expected = [
        (4, "issued_on", "invalid_date"),
        (5, "email", "unknown_user"),
        (6, "expires_on", "expires_before_issue"),
    ]
    report = await org.call("POST", "importer", "/imports", admin, 201, **with_errors)
    path = f"/imports/{report['import_id']}"

    async def reported_as_expected() -> bool:
        # Until the importer's replica has the new people and types, it reports them unknown;
        # the admin uploads the same file again, as a user would.
        report.update(await org.call("PUT", "importer", f"{path}/file", admin, **with_errors))
        return [(p["row"], p["column"], p["code"]) for p in report["problems"]] == expected

    await eventually(reported_as_expected, timeout_s=30)
    assert (report["valid_rows"], report["rejected_rows"]) == (2, 3)
    lines = rows_of(await download(org, "importer", f"{path}/report.csv", admin))
    assert [tuple(line[:3]) for line in lines[1:4]] == [(str(r), c, k) for r, c, k in expected]
    # The valid forklift rows still miss the files their type requires.
    assert [(line[0], line[2]) for line in lines[4:]] == [
        ("2", "media_missing"), ("3", "media_missing")
    ]  # fmt: skip

    # The fixed file: every row valid. Jo's file goes up; media becomes optional for the rest.
    report = await org.call("PUT", "importer", f"{path}/file", admin, **file(
        f"{jo.email},Forklift licence,01/03/2026,,FL-1,,,jo-forklift.pdf",
        f"{sam.email},Forklift licence,02/03/2026,,FL-2,,,sam-forklift.pdf",
        f"{kim.email},White card,02/03/2026,,WC-3,,,",
        f"{jo.email},White card,02/03/2026,,WC-4,,,",
        f"{kim.email},Forklift licence,05/03/2026,05/03/2029,FL-5,,,kim-forklift.pdf",
    ))  # fmt: skip
    assert (report["problems"], report["valid_rows"]) == ([], 5)
    assert report["media"] == {"optional": False, "rows_missing": [2, 3, 6]}
    attached = await org.call(
        "POST", "importer", f"{path}/media", admin,
        files=[("files", ("jo-forklift.pdf", PDF, "application/pdf"))],
    )  # fmt: skip
    assert attached["media"]["rows_missing"] == [3, 6]
    missing = rows_of(await download(org, "importer", f"{path}/report.csv", admin))[1:]
    assert [(line[0], line[2]) for line in missing] == [
        ("3", "media_missing"),
        ("6", "media_missing"),
    ]
    await org.call("PATCH", "importer", path, admin, json={"media_optional": True})
    await org.call("POST", "importer", f"{path}/finish", admin, 202)

    done: dict[str, Any] = {}

    async def completed() -> bool:
        done.update(await org.get("importer", path, admin))
        return bool(done["status"] == "completed")

    await eventually(completed, timeout_s=60)
    assert done["progress"] == {"rows_sent": 5, "rows_applied": 5, "rows_refused": 0}
    assert rows_of(await download(org, "importer", f"{path}/report.csv", admin)) == [
        ["row", "column", "code", "message"]
    ]

    # The rows wait for review; the uploader approves the whole import at once.
    async def all_pending() -> bool:
        page = await org.view("/credentials", admin)
        return sorted(c["status"] for c in page["items"]) == ["pending"] * 5

    await eventually(all_pending, timeout_s=60)
    approved = await org.post(
        "review", "/reviews/bulk-approve", admin, expect=200,
        import_id=report["import_id"], comment="Checked against the paper cards.",
    )  # fmt: skip
    assert (approved["approved"], approved["failed"]) == (5, 0)
    page = await org.view_when(
        "/credentials", admin, lambda page: {c["status"] for c in page["items"]} == {"verified"}
    )
    assert sorted((c["holder_name"], c["certification_number"]) for c in page["items"]) == [
        ("Jo", "FL-1"), ("Jo", "WC-4"), ("Kim", "FL-5"), ("Kim", "WC-3"), ("Sam", "FL-2")
    ]  # fmt: skip
    jos = next(c for c in page["items"] if c["certification_number"] == "FL-1")
    detail = await org.view(f"/credentials/{jos['credential_id']}", jo)
    assert [m["file_name"] for m in detail["versions"][0]["media"]] == ["jo-forklift.pdf"]
    assert detail["import_id"] == report["import_id"]

    exported = rows_of(await download(org, "projection", "/credentials.csv", admin))
    columns = exported[0]
    assert len(exported) == 6
    assert {row[columns.index("status")] for row in exported[1:]} == {"verified"}
    assert sorted(row[columns.index("certification_number")] for row in exported[1:]) == [
        "FL-1", "FL-2", "FL-5", "WC-3", "WC-4"
    ]  # fmt: skip
