"""The submission service through HTTP with real PostgreSQL, Kafka and MinIO."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from typing import Any
from uuid import UUID

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from credflow_contracts.envelope import Envelope
from credflow_contracts.events.commands import SubmitCredential
from credflow_contracts.events.credentials import (
    CredentialDeleted,
    CredentialSubmitted,
    CredentialVersionEdited,
    MediaAttached,
    MediaRemoved,
    VersionAdded,
)
from credflow_contracts.events.imports import ImportRowRefused
from credflow_contracts.ids import uuid7
from credflow_contracts.topics import CREDENTIALS, IMPORTS, SUBMISSION_COMMANDS
from tests.infrastructure import Infrastructure
from tests.integration.directory.conftest import Org, token
from tests.integration.kafka_support import read_topic
from tests.integration.submission.conftest import Stack
from tests.polling import eventually

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 64


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.txt", "not a certificate")
    return out.getvalue()


async def setup(stack: Stack, **settings: Any) -> tuple[Org, dict[str, Any], dict[str, Any]]:
    org = await stack.org("Acme", **settings)
    licence = await stack.credential_type(org, name="Driver's licence", default_validity_months=60)
    worker = await stack.user(org, "wendy@acme.test", manager_id=str(org.admin_id))
    return org, licence, worker


def as_user(org: Org, user: dict[str, Any], *roles: str) -> dict[str, str]:
    return token(org.id, UUID(user["user_id"]), *(roles or tuple(user["roles"])))


async def add(
    stack: Stack,
    org: Org,
    headers: dict[str, str],
    data: dict[str, Any],
    files: list[tuple[str, bytes]] | None = None,
) -> httpx.Response:
    url = f"/organisations/{org.id}/credentials"
    if files is None:
        return await stack.submission.post(url, json=data, headers=headers)
    return await stack.submission.post(
        url,
        headers=headers,
        data={"data": json.dumps(data)},
        files=[("files", (name, content)) for name, content in files],
    )


async def test_a_worker_submits_a_licence_with_a_pdf_named_png_and_it_is_stored_as_pdf(
    stack: Stack, infra: Infrastructure
) -> None:
    org, licence, worker = await setup(stack)
    response = await add(
        stack,
        org,
        as_user(org, worker),
        {
            "credential_type_id": licence["credential_type_id"],
            "issued_on": "2026-01-31",
            "certification": {"number": "DL-1234"},
            "issuer": {"name": "Transport for NSW"},
        },
        files=[("licence-photo.png", PDF)],
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["version"] == 1
    assert body["expires_on"] == "2031-01-31", "computed from the type's 60 months"
    [stored] = body["media"]
    assert (stored["kind"], stored["content_type"]) == ("pdf", "application/pdf")
    assert stored["file_name"] == "licence-photo.png"

    url_response = await stack.submission.get(
        f"/organisations/{org.id}/credentials/{body['credential_id']}/media/{stored['media_id']}/url",
        headers=as_user(org, worker),
    )
    assert url_response.status_code == 200
    signed = url_response.json()["url"]
    async with httpx.AsyncClient() as plain:
        downloaded = await plain.get(signed)
        assert downloaded.status_code == 200
        assert downloaded.content == PDF
        assert downloaded.headers["content-type"] == "application/pdf"
        await asyncio.sleep(3)  # the test runs with 2-second URLs
        assert (await plain.get(signed)).status_code == 403, "the signed URL expired"


@pytest.mark.parametrize(("name", "content"), [("cert.pdf", ELF), ("cert.pdf", "zip")])
async def test_files_that_are_not_pdf_jpeg_or_png_are_refused_whatever_their_name(
    stack: Stack, name: str, content: bytes | str
) -> None:
    org, licence, worker = await setup(stack)
    data = zip_bytes() if content == "zip" else content
    assert isinstance(data, bytes)
    response = await add(
        stack,
        org,
        as_user(org, worker),
        {"credential_type_id": licence["credential_type_id"], "issued_on": "2026-01-31"},
        files=[(name, data)],
    )
    assert response.status_code == 415
    assert response.json()["errors"][0]["path"] == "body.files.0"
    async with stack.context.pool.connection() as conn:
        cursor = await conn.execute("SELECT count(*) FROM events")
        assert (await cursor.fetchone()) == (0,), "nothing was recorded"


async def test_a_file_over_the_organisations_limit_is_refused(stack: Stack) -> None:
    org, licence, worker = await setup(stack)
    settings = (
        await stack.directory.client.patch(
            org.url("/settings"), json={"max_media_bytes": 2048}, headers=org.admin
        )
    ).json()
    await stack.replicated(settings)
    response = await add(
        stack,
        org,
        as_user(org, worker),
        {"credential_type_id": licence["credential_type_id"], "issued_on": "2026-01-31"},
        files=[("big.png", PNG + b"\x00" * 4096)],
    )
    assert response.status_code == 413
    size = len(PNG) + 4096
    assert response.json()["detail"] == f"big.png has {size:,} bytes; at most 2,048 are accepted"


async def test_admin_managed_organisations_refuse_workers_but_not_their_manager(
    stack: Stack,
) -> None:
    org, licence, worker = await setup(stack)
    settings = (
        await stack.directory.client.patch(
            org.url("/settings"), json={"credential_management": "admin_managed"}, headers=org.admin
        )
    ).json()
    await stack.replicated(settings)
    data = {"credential_type_id": licence["credential_type_id"], "issued_on": "2026-01-31"}
    refused = await add(stack, org, as_user(org, worker), data)
    assert refused.status_code == 403
    manager = await stack.user(org, "mia@acme.test", roles=["manager"])
    managee = await stack.user(org, "max@acme.test", manager_id=manager["user_id"])
    by_manager = await add(
        stack, org, as_user(org, manager), {**data, "holder_id": managee["user_id"]}
    )
    assert by_manager.status_code == 201, by_manager.text
    not_their_managee = await add(
        stack, org, as_user(org, manager), {**data, "holder_id": worker["user_id"]}
    )
    assert not_their_managee.status_code == 403
    by_admin = await add(stack, org, org.admin, {**data, "holder_id": worker["user_id"]})
    assert by_admin.status_code == 201
    readable = await stack.submission.get(
        f"/organisations/{org.id}/credentials/{by_admin.json()['credential_id']}",
        headers=as_user(org, worker),
    )
    assert readable.status_code == 200, "workers still read their own credentials"


async def test_users_of_another_organisation_get_404(stack: Stack) -> None:
    org, licence, worker = await setup(stack)
    created = await add(
        stack,
        org,
        as_user(org, worker),
        {"credential_type_id": licence["credential_type_id"], "issued_on": "2026-01-31"},
        files=[("l.pdf", PDF)],
    )
    credential = created.json()
    other = await stack.org("Bravo")
    base = f"/organisations/{org.id}/credentials/{credential['credential_id']}"
    media = credential["media"][0]["media_id"]
    for method, url, body in [
        ("GET", base, None),
        ("GET", f"{base}/media/{media}/url", None),
        ("PATCH", f"{base}/latest", {"notes": "hijack"}),
        ("DELETE", base, None),
        ("POST", f"{base}/revoke", {"reason": "x"}),
        (
            "POST",
            f"/organisations/{org.id}/credentials",
            {"credential_type_id": licence["credential_type_id"], "issued_on": "2026-01-31"},
        ),
    ]:
        response = await stack.submission.request(method, url, json=body, headers=other.admin)
        assert response.status_code == 404, (method, url, response.status_code)
    # ...and B's own organisation path does not reach A's credential either
    foreign = await stack.submission.get(
        f"/organisations/{other.id}/credentials/{credential['credential_id']}", headers=other.admin
    )
    assert foreign.status_code == 404


async def test_two_concurrent_edits_at_the_same_version_exactly_one_conflicts(
    stack: Stack,
) -> None:
    org, licence, worker = await setup(stack)
    created = (
        await add(
            stack,
            org,
            as_user(org, worker),
            {"credential_type_id": licence["credential_type_id"], "issued_on": "2026-01-31"},
        )
    ).json()
    url = f"/organisations/{org.id}/credentials/{created['credential_id']}/latest"
    headers = {**as_user(org, worker), "If-Match": str(created["version"])}
    responses = await asyncio.gather(
        stack.submission.patch(url, json={"notes": "first"}, headers=headers),
        stack.submission.patch(url, json={"notes": "second"}, headers=headers),
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    conflict = next(r for r in responses if r.status_code == 409).json()
    assert conflict["type"].endswith("/concurrency")
    winner = next(r for r in responses if r.status_code == 200).json()
    assert winner["version"] == 2


async def test_the_whole_lifecycle_is_published_and_parses_with_the_contracts(
    stack: Stack, infra: Infrastructure
) -> None:
    org, licence, worker = await setup(stack)
    headers = as_user(org, worker)
    created = (
        await add(
            stack,
            org,
            headers,
            {"credential_type_id": licence["credential_type_id"], "issued_on": "2026-01-31"},
            files=[("scan.pdf", PDF)],
        )
    ).json()
    base = f"/organisations/{org.id}/credentials/{created['credential_id']}"
    api = stack.submission
    assert (
        await api.patch(f"{base}/latest", json={"expires_on": "2030-12-31"}, headers=headers)
    ).status_code == 200
    renewed = await api.post(f"{base}/versions", headers=headers, json={"issued_on": "2026-06-01"})
    assert renewed.status_code == 201, renewed.text
    attached = await api.post(f"{base}/media", headers=headers, files={"file": ("back.png", PNG)})
    assert attached.status_code == 201, attached.text
    media_id = created["media"][0]["media_id"]
    assert (await api.delete(f"{base}/media/{media_id}", headers=headers)).status_code == 200
    assert (
        await api.post(f"{base}/suspend", json={"reason": "audit"}, headers=headers)
    ).status_code == 403, "only admins suspend"
    for action, body in (
        ("suspend", {"reason": "audit"}),
        ("reinstate", {}),
        ("revoke", {"reason": "forged"}),
    ):
        assert (await api.post(f"{base}/{action}", json=body, headers=org.admin)).status_code == 200
    stale = await api.post(f"{base}/reinstate", json={}, headers=org.admin)
    assert stale.status_code == 409
    assert "revoked" in stale.json()["detail"]
    assert (await api.delete(base, headers=org.admin)).status_code == 200

    landed = await read_topic(infra.kafka_bootstrap_servers, stack.topic_prefix + CREDENTIALS, 9)
    events = [r.envelope.event for r in landed]
    assert [type(e).__name__ for e in events] == [
        "CredentialSubmitted",
        "CredentialVersionEdited",
        "VersionAdded",
        "MediaAttached",
        "MediaRemoved",
        "CredentialSuspended",
        "CredentialReinstated",
        "CredentialRevoked",
        "CredentialDeleted",
    ]
    assert isinstance(events[0], CredentialSubmitted)
    assert isinstance(events[1], CredentialVersionEdited)
    assert isinstance(events[2], VersionAdded)
    assert isinstance(events[3], MediaAttached)
    assert isinstance(events[4], MediaRemoved)
    assert isinstance(events[-1], CredentialDeleted)
    assert events[2].version_number == 2
    assert [r.envelope.aggregate_version for r in landed] == list(range(1, 10))
    assert {r.key for r in landed} == {created["credential_id"].encode()}
    assert not await stack_object_exists(stack, org, created["credential_id"], media_id)


async def stack_object_exists(stack: Stack, org: Org, credential_id: str, media_id: str) -> bool:
    from credflow_common.media import MediaStore, object_key

    store = MediaStore(stack.context.infra)
    return await store.exists(object_key(org.id, UUID(credential_id), UUID(media_id)))


def import_command(
    org: Org, licence: dict[str, Any], worker: dict[str, Any], row_number: int
) -> SubmitCredential:
    return SubmitCredential(
        command_id=uuid7(),
        credential_id=uuid7(),
        organisation_id=org.id,
        import_id=uuid7(),
        row_number=row_number,
        holder_id=UUID(worker["user_id"]),
        credential_type_id=UUID(licence["credential_type_id"]),
        issued_on="2026-02-01",
        requested_by=org.admin_id,
    )


async def credential_events(stack: Stack, command: SubmitCredential) -> int:
    async with stack.context.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM events WHERE stream_id = %s",
            (f"credential-{command.credential_id}",),
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0


async def deliver_twice(stack: Stack, infra: Infrastructure, command: SubmitCredential) -> None:
    """The same command delivered twice (a new ce_id each time), and both handled."""
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await producer.start()
    for _ in range(2):
        record = Envelope(
            event=command, source="/credflow/importer", tenant_id=command.organisation_id
        ).to_kafka()
        await producer.send_and_wait(
            stack.topic_prefix + SUBMISSION_COMMANDS,
            record.value,
            key=record.key,
            headers=record.headers,
        )
    await producer.stop()

    async def both_handled() -> bool:
        async with stack.context.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT coalesce(sum(next_offset), 0) FROM consumer_positions WHERE consumer = %s",
                ("submission.commands",),
            )
            row = await cursor.fetchone()
            return row is not None and row[0] >= 2

    await eventually(both_handled)


async def test_an_importer_command_delivered_twice_makes_one_credential(
    stack: Stack, infra: Infrastructure
) -> None:
    org, licence, worker = await setup(stack)
    command = import_command(org, licence, worker, row_number=7)
    await deliver_twice(stack, infra, command)
    assert await credential_events(stack, command) == 1
    landed = await read_topic(infra.kafka_bootstrap_servers, stack.topic_prefix + CREDENTIALS, 1)
    [submitted] = [r.envelope.event for r in landed]
    assert isinstance(submitted, CredentialSubmitted)
    assert submitted.import_id == command.import_id
    assert submitted.expires_on is not None
    assert submitted.expires_on.isoformat() == "2031-02-01"


async def test_an_importer_command_no_longer_valid_is_refused_once_and_creates_nothing(
    stack: Stack, infra: Infrastructure
) -> None:
    org, licence, worker = await setup(stack)
    response = await stack.directory.client.post(
        org.url(f"/users/{worker['user_id']}/deactivate"), headers=org.admin
    )
    assert response.status_code == 200, response.text
    await stack.replicated(response.json())
    command = import_command(org, licence, worker, row_number=12)
    await deliver_twice(stack, infra, command)
    assert await credential_events(stack, command) == 0
    landed = await read_topic(infra.kafka_bootstrap_servers, stack.topic_prefix + IMPORTS, 1)
    [refused] = [r.envelope.event for r in landed]
    assert isinstance(refused, ImportRowRefused)
    assert (refused.import_id, refused.row_number, refused.credential_id) == (
        command.import_id, 12, command.credential_id,
    )  # fmt: skip
    assert (refused.field, refused.reason) == ("holder_id", "the holder is deactivated")


async def test_delete_many_reports_each_credential_and_removes_their_files(stack: Stack) -> None:
    org, licence, worker = await setup(stack)
    data = {"credential_type_id": licence["credential_type_id"], "issued_on": "2026-01-31"}
    created = [
        (await add(stack, org, as_user(org, worker), data, files=[("f.pdf", PDF)])).json()
        for _ in range(3)
    ]
    unknown = str(uuid7())
    response = await stack.submission.post(
        f"/organisations/{org.id}/credentials/delete",
        json={
            "credential_ids": [c["credential_id"] for c in created] + [unknown],
            "reason": "duplicates",
        },
        headers=org.admin,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["deleted"], report["failed"]) == (3, 1)
    assert report["results"][-1] == {
        "credential_id": unknown,
        "status": 404,
        "error": "no such credential",
    }
    for credential in created:
        gone = await stack.submission.get(
            f"/organisations/{org.id}/credentials/{credential['credential_id']}", headers=org.admin
        )
        assert gone.status_code == 404
        media_id = credential["media"][0]["media_id"]
        assert not await stack_object_exists(stack, org, credential["credential_id"], media_id)
