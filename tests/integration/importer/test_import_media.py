"""The media step of a bulk import: files matched to rows by name, rows still missing a
required file reported (finish refused until they have one or media is marked optional), and
the files reaching the credentials (downloadable through the submission service)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.importer.conftest import ImportStack, build_import_org
from tests.polling import eventually

PDF = b"%PDF-1.7\n" + b"0" * 200
HEADER = "email,credential_type,issued_on,expires_on,certification_number,issuer,notes,media_file"


async def test_files_are_matched_to_rows_and_reach_the_credentials(stack: ImportStack) -> None:
    world = await build_import_org(stack, "Media")
    jo, sam = world.people["jo"]["email"], world.people["sam"]["email"]
    raw = "\n".join([
        HEADER,
        f"{jo},Gas licence,01/03/2026,,GL-1,,,Jo-Gas.pdf",  # 2: requires a file
        f"{sam},Gas licence,02/03/2026,,GL-2,,,sam-gas.pdf",  # 3: requires a file
        f"{sam},White card,02/03/2026,,,,,",  # 4: needs none
    ]).encode()  # fmt: skip
    report = await stack.upload(world.org, raw)
    path = f"/{report['import_id']}"
    assert report["media"] == {"optional": False, "rows_missing": [2, 3]}
    refused = await stack.call("POST", world.org, f"{path}/finish", expect=409)
    assert "2 row(s) of types that require media have no file" in refused["detail"]

    attached = await stack.call("POST", world.org, f"{path}/media", files=[
        ("files", ("jo-gas.pdf", PDF, "application/pdf")),  # capitals ignored
        ("files", ("stray.pdf", PDF, "application/pdf")),
        ("files", ("sam-gas.pdf", b"not a pdf at all", "application/pdf")),
    ])  # fmt: skip
    assert [(f["file"], f["outcome"], f.get("code")) for f in attached["files"]] == [
        ("jo-gas.pdf", "attached", None),
        ("stray.pdf", "unmatched", "no_row"),
        ("sam-gas.pdf", "rejected", "unsupported_kind"),
    ]
    assert attached["media"]["rows_missing"] == [3]

    await stack.call("PATCH", world.org, path, json={"media_optional": True})
    await stack.call("POST", world.org, f"{path}/finish", expect=202)
    done: dict[str, Any] = {}

    async def completed() -> bool:
        done.update(await stack.call("GET", world.org, path))
        return bool(done["status"] == "completed")

    await eventually(completed, timeout_s=60)
    credentials: list[dict[str, Any]] = []

    async def projected() -> bool:
        response = await stack.views.get(
            f"/organisations/{world.org.id}/credentials",
            params={"credential_type_id": world.types["gas"]},
            headers=world.org.admin,
        )
        credentials[:] = response.json()["items"]
        return len(credentials) == 2

    await eventually(projected, timeout_s=60)
    jos = next(c for c in credentials if c["holder_id"] == world.people["jo"]["user_id"])
    detail = await stack.views.get(
        f"/organisations/{world.org.id}/credentials/{jos['credential_id']}",
        headers=world.org.admin,
    )
    [media] = detail.json()["versions"][0]["media"]
    assert (media["file_name"], media["kind"], media["size_bytes"]) == ("jo-gas.pdf", "pdf", 209)
    link = await stack.services.submission.get(
        f"/organisations/{world.org.id}/credentials/{jos['credential_id']}"
        f"/media/{media['media_id']}/url",
        headers=world.as_("jo"),
    )
    assert link.status_code == 200, link.text
    async with httpx.AsyncClient() as client:
        assert (await client.get(link.json()["url"])).content == PDF
