"""Credential commands: record one (with files), renew, edit the latest version, attach and
remove files, delete one or many.

Every command answers with the credential's aggregate `version` (send it back as `If-Match` to
guard the next change against concurrent edits: a stale version is a 409) and a `position` (the
id of its last event) that a view request can wait for.
"""

from __future__ import annotations

from typing import cast
from uuid import UUID

from fastapi import APIRouter, Request, UploadFile

from credflow_common.auth import CurrentPrincipal
from credflow_common.media import object_key
from credflow_common.requests import Asking, Body, unkeyed_command
from credflow_contracts.events.credentials import EditableField
from credflow_contracts.ids import uuid7
from credflow_submission import domain
from credflow_submission.domain import (
    AddVersion,
    AttachMedia,
    EditLatest,
    RemoveMedia,
    VersionDetails,
)
from credflow_submission.inputs import (
    MULTIPART_BODY,
    CredentialInput,
    DeleteManyInput,
    EditInput,
    IfMatch,
    VersionInput,
    read_input,
)
from credflow_submission.service import Change, Credentials
from credflow_submission.store import Conn


def build(credentials: Credentials) -> APIRouter:
    router = APIRouter(prefix="/organisations/{org}/credentials", tags=["credentials"])
    files = credentials.files

    @router.post("", status_code=201, openapi_extra=MULTIPART_BODY)
    async def add_credential(org: UUID, request: Request, asking: Asking) -> Body:
        """Record a credential with its first version (and files, as multipart)."""
        asking.principal.require_organisation(org)
        body, uploads = await read_input(request, CredentialInput)
        payload = [body.model_dump(mode="json"), [f.filename for f in uploads]]
        return await credentials.add(asking.command(org, payload), body, uploads)

    @router.post("/{credential_id}/versions", status_code=201, openapi_extra=MULTIPART_BODY)
    async def add_version(
        org: UUID, credential_id: UUID, request: Request, asking: Asking, if_match: IfMatch = None
    ) -> Body:
        """Renew: a new version becomes the latest; earlier ones are kept."""
        asking.principal.require_organisation(org)
        body, uploads = await read_input(request, VersionInput)
        payload = [body.model_dump(mode="json"), [f.filename for f in uploads]]
        command = asking.command(org, payload)
        stored = await files.stage(command, credential_id, uploads)

        async def renew(conn: Conn, state: domain.Credential) -> domain.Command:
            details = VersionDetails(**body.model_dump(), media=tuple(stored))
            return AddVersion(uuid7(), details, command.actor_id)

        change = Change(credential_id, if_match, needs_rules=True, staged=stored)
        return await credentials.change(command, change, renew)

    @router.patch("/{credential_id}/latest")
    async def edit_latest(
        org: UUID, credential_id: UUID, body: EditInput, asking: Asking, if_match: IfMatch = None
    ) -> Body:
        """Correct the latest version. Fields sent (null clears) change; others stay."""
        changes = {cast(EditableField, name): getattr(body, name) for name in body.model_fields_set}
        command = asking.command(org, body.model_dump(mode="json", exclude_unset=True))

        async def edit(conn: Conn, state: domain.Credential) -> domain.Command:
            return EditLatest(command.actor_id, changes)

        change = Change(credential_id, if_match, needs_rules=True)
        return await credentials.change(command, change, edit)

    @router.post("/{credential_id}/media", status_code=201)
    async def attach_media(
        org: UUID, credential_id: UUID, file: UploadFile, asking: Asking, if_match: IfMatch = None
    ) -> Body:
        asking.principal.require_organisation(org)
        command = asking.command(org, ["attach", file.filename, file.size])
        stored = await files.stage(command, credential_id, [file])

        async def attach(conn: Conn, state: domain.Credential) -> domain.Command:
            # Nothing staged only for a repeated key, whose first outcome is answered instead.
            assert stored, "a replayed command is never decided again"
            return AttachMedia(stored[0], command.actor_id)

        change = Change(credential_id, if_match, staged=stored)
        return await credentials.change(command, change, attach)

    @router.delete("/{credential_id}/media/{media_id}")
    async def remove_media(
        org: UUID, credential_id: UUID, media_id: UUID, asking: Asking, if_match: IfMatch = None
    ) -> Body:
        """Remove one file; the credential stays."""
        command = asking.command(org, ["remove", str(media_id)])

        async def remove(conn: Conn, state: domain.Credential) -> domain.Command:
            await files.queue_deletions(conn, [object_key(org, credential_id, media_id)])
            return RemoveMedia(media_id, command.actor_id)

        result = await credentials.change(command, Change(credential_id, if_match), remove)
        await files.sweep()
        return result

    @router.delete("/{credential_id}")
    async def delete_credential(org: UUID, credential_id: UUID, asking: Asking) -> Body:
        """Delete a credential with its versions; its files are removed afterwards."""
        result = await credentials.delete(asking.command(org, "delete"), credential_id, None)
        await files.sweep()
        return result

    @router.post("/delete")
    async def delete_many(
        org: UUID, body: DeleteManyInput, request: Request, principal: CurrentPrincipal
    ) -> Body:
        """Delete many credentials; each succeeds or fails on its own, with its reason. A caller
        with no right to manage credentials at all is refused as a whole (403)."""
        return await credentials.delete_many(unkeyed_command(request, principal, org), body)

    return router
