"""The importer's part of an erasure: the files attached to a person's draft import rows
(they never became credentials, so the submission service does not know them) are removed,
and only then is the erasure reported, with what was deleted; the row
keeps its ids and loses its number and file name."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from credflow_common.erasure import report_stream
from credflow_common.media import MediaStore, credential_prefix
from credflow_contracts.events.directory import PersonErased
from credflow_contracts.events.erasures import ErasureReported
from credflow_contracts.ids import uuid7
from credflow_importer.consumers import erase
from tests.integration.importer.conftest import ImportStack, build_import_org
from tests.integration.importer.test_import_media import HEADER, PDF
from tests.polling import eventually


async def test_a_draft_rows_files_are_removed_before_the_erasure_is_reported(
    stack: ImportStack,
) -> None:
    world = await build_import_org(stack, "Forgetting")
    jo, sam = world.people["jo"], world.people["sam"]
    rows = [f"{jo['email']},Gas licence,01/03/2026,,GL-1,,,jo-gas.pdf",
            f"{sam['email']},Gas licence,01/03/2026,,GL-2,,,sam-gas.pdf"]  # fmt: skip
    raw = "\n".join([HEADER, *rows]).encode()
    report = await stack.upload(world.org, raw)
    path = f"/{report['import_id']}"
    attached = await stack.call("POST", world.org, f"{path}/media", files=[
        ("files", ("jo-gas.pdf", PDF, "application/pdf")),
        ("files", ("sam-gas.pdf", PDF, "application/pdf")),
    ])  # fmt: skip
    assert [f["outcome"] for f in attached["files"]] == ["attached", "attached"]
    context = stack.importer_context
    org = world.org.id
    async with context.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT holder_id, credential_id FROM import_rows WHERE import_id = %s",
            (report["import_id"],),
        )
        credentials: dict[str, Any] = {str(h): c for h, c in await cursor.fetchall()}
    media = MediaStore(context.infra)
    jo_prefix = credential_prefix(org, credentials[jo["user_id"]])
    sam_prefix = credential_prefix(org, credentials[sam["user_id"]])
    assert len(await _keys(media, jo_prefix)) == 1, "Jo's file is stored"

    erased = PersonErased(organisation_id=org, user_id=UUID(jo["user_id"]),
                          erasure_id=uuid7(), erased_at=datetime.now(UTC))  # fmt: skip
    async with context.pool.connection() as conn, conn.transaction():
        await erase(conn, erased)
    async with context.pool.connection() as conn, conn.transaction():
        await erase(conn, erased)  # applied twice (a redelivery): queued once

    reported: list[ErasureReported] = []

    async def reported_once() -> bool:
        async with context.pool.connection() as conn:
            recorded = await context.event_store.load(
                conn, report_stream(erased.erasure_id, "importer")
            )
        reported[:] = [r.event for r in recorded if isinstance(r.event, ErasureReported)]
        return bool(reported)

    await eventually(reported_once, timeout_s=30)
    assert [r.deleted for r in reported] == [
        {"import_rows": 1, "import_file_names": 0, "files": 1}
    ], "Jo's row and Jo's file, reported once"
    assert await _keys(media, jo_prefix) == []
    assert len(await _keys(media, sam_prefix)) == 1, "Sam's file stays"
    row = await stack.call("GET", world.org, path)
    assert row["valid_rows"] == 2, "the import's counts stay true"
    async with context.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT certification_number, media_file, media FROM import_rows"
            " WHERE credential_id = %s", (credentials[jo["user_id"]],),
        )  # fmt: skip
        assert await cursor.fetchone() == (None, None, None)


async def _keys(media: MediaStore, prefix: str) -> list[str]:
    """The key of every object version under `prefix`."""

    def listed() -> list[str]:
        found = media.client.list_objects(media.bucket, prefix=prefix, recursive=True,
                                          include_version=True)  # fmt: skip
        return [item.object_name or "" for item in found]

    return await asyncio.to_thread(listed)
