"""The submission service's part of an erasure: the files of the person's credentials (every
object and object version under each credential's prefix) are queued for its background task,
`credflow_common.file_erasure.FileEraser`, which removes them and then reports (ADR 0017)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from credflow_common.file_erasure import queue_files
from credflow_common.media import credential_prefix
from credflow_contracts.events.credentials import CredentialSubmitted, CredentialSubmittedV1
from credflow_contracts.events.directory import PersonErased

Conn = AsyncConnection[Any]
SERVICE = "submission"

_FIRST_EVENTS = [CredentialSubmittedV1.ce_type(), CredentialSubmitted.ce_type()]


async def erase(conn: Conn, erased: PersonErased) -> None:
    """The submission service's part of an erasure, in the replica consumer's transaction:
    the files of every credential the person holds are queued for the `FileEraser`, which
    reports once they are gone. (Their credentials' events are sealed with the person's
    destroyed key.)"""
    org = erased.organisation_id
    cursor = await conn.execute(
        "SELECT DISTINCT stream_id FROM events WHERE data->>'holder_id' = %s AND tenant_id = %s"
        " AND event_type = ANY(%s)",
        (str(erased.user_id), org, _FIRST_EVENTS),
    )
    prefixes = [
        credential_prefix(org, UUID(stream.removeprefix("credential-")))
        for (stream,) in await cursor.fetchall()
    ]
    await queue_files(conn, SERVICE, erased, prefixes, {"credentials": len(prefixes)})
