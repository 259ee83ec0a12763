"""The submission service's HTTP API: credential commands and media.

Every command answers with the credential's aggregate `version` (send it back as `If-Match` to
guard the next change against concurrent edits: a stale version is a 409) and a `position` (the
id of its last event) that a view request can wait for.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast
from uuid import UUID

import structlog
from fastapi import APIRouter, Request, UploadFile

from credflow_common import idempotency
from credflow_common.auth import CurrentPrincipal, Principal
from credflow_common.directory_replica import DirectoryReplica
from credflow_common.errors import DomainError
from credflow_common.eventstore import Metadata, RecordedEvent
from credflow_common.media import MediaStore, object_key
from credflow_common.problems import ProblemError
from credflow_common.service import ServiceContext
from credflow_contracts.events.credentials import EditableField
from credflow_contracts.events.values import MediaFile
from credflow_contracts.ids import uuid7
from credflow_submission import domain
from credflow_submission.domain import (
    AddVersion,
    AttachMedia,
    Delete,
    EditLatest,
    HolderInfo,
    NotFoundError,
    RemoveMedia,
    Submit,
    VersionDetails,
)
from credflow_submission.files import Files
from credflow_submission.inputs import (
    MULTIPART_BODY,
    CredentialInput,
    DeleteManyInput,
    EditInput,
    IdempotencyKey,
    IfMatch,
    VersionInput,
    read_input,
)
from credflow_submission.lifecycle_routes import add_lifecycle_routes
from credflow_submission.service import (
    Access,
    Conn,
    ForbiddenError,
    Loaded,
    execute,
    load,
    remembering_lookups,
    rules_for,
)

log = structlog.get_logger("credflow.submission")
Body = dict[str, Any]


def build_router(context: ServiceContext, media: MediaStore) -> APIRouter:
    store = context.event_store
    access = Access(DirectoryReplica())
    staging = Files(context.pool, store, access, media)
    router = APIRouter(prefix="/organisations/{org}/credentials", tags=["credentials"])

    def metadata(request: Request, principal: Principal, org: UUID) -> Metadata:
        return Metadata(org, request.state.correlation_id, actor_id=principal.user_id)

    async def run(
        request: Request,
        principal: Principal,
        org: UUID,
        key: str | None,
        payload: Any,
        work: Callable[[Conn], Awaitable[tuple[Body, Sequence[RecordedEvent]]]],
        holder_and_type: tuple[UUID, UUID] | None = None,
        staged: tuple[UUID, Sequence[MediaFile]] | None = None,
    ) -> Body:
        """`holder_and_type`: read with the settings in one query (a new credential's);
        `staged`: the credential's files stored for this command, discarded if it fails."""
        principal.require_organisation(org)

        async def checked(conn: Conn) -> tuple[Body, Sequence[RecordedEvent]]:
            if holder_and_type is not None:
                await access.preload(conn, org, *holder_and_type)
            await access.settings(conn, org)  # 404 for an organisation this replica lacks
            return await work(conn)

        try:
            with remembering_lookups():
                return await idempotency.run_command(
                    context.pool,
                    idempotency.Caller(org, principal.user_id),
                    key,
                    request.url.path,
                    payload,
                    checked,
                )
        except BaseException:
            if staged is not None:
                await staging.discard(org, *staged)
            raise

    def answer(credential_id: UUID, version: int, extra: Body | None = None) -> Body:
        return {"credential_id": str(credential_id), "version": version, **(extra or {})}

    # -- commands -------------------------------------------------------------------------------

    @router.post("", status_code=201, openapi_extra=MULTIPART_BODY)
    async def add_credential(
        org: UUID,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        """Record a credential with its first version (and files, as multipart)."""
        principal.require_organisation(org)
        body, files = await read_input(request, CredentialInput)
        credential_id = uuid7()
        holder_id = body.holder_id or principal.user_id
        stored = await staging.stage(
            principal, org, credential_id, files, idempotency_key, holder_id
        )

        async def work(conn: Conn) -> tuple[Body, Sequence[RecordedEvent]]:
            holder = await access.holder(conn, org, holder_id)
            await access.require_manage(conn, principal, holder)
            rules = await rules_for(access.replica, conn, org, body.credential_type_id)
            details = VersionDetails(
                **body.model_dump(exclude={"credential_type_id", "holder_id"}), media=tuple(stored)
            )
            command = Submit(
                credential_id,
                org,
                holder.user_id,
                body.credential_type_id,
                uuid7(),
                details,
                principal.user_id,
            )
            state, version, recorded = await execute(
                store,
                conn,
                credential_id,
                command,
                metadata(request, principal, org),
                None,
                rules,
                HolderInfo(active=holder.status == "active"),
                Loaded(None, 0),  # a new id: no stream to load
            )
            assert state is not None
            return answer(
                credential_id,
                version,
                {
                    "expires_on": state.latest.expires_on.isoformat()
                    if state.latest.expires_on
                    else None,
                    "media": [m.model_dump(mode="json") for m in stored],
                },
            ), recorded

        payload = [body.model_dump(mode="json"), [f.filename for f in files]]
        return await run(
            request,
            principal,
            org,
            idempotency_key,
            payload,
            work,
            holder_and_type=(holder_id, body.credential_type_id),
            staged=(credential_id, stored),
        )

    async def change(
        request: Request,
        principal: Principal,
        org: UUID,
        credential_id: UUID,
        key: str | None,
        if_match: int | None,
        payload: Any,
        command_for: Callable[[Conn, domain.Credential], Awaitable[domain.Command]],
        needs_rules: bool = False,
        admin_only: bool = False,
        staged: Sequence[MediaFile] = (),
    ) -> Body:
        async def work(conn: Conn) -> tuple[Body, Sequence[RecordedEvent]]:
            loaded = await load(store, conn, credential_id)
            state = loaded.state
            if state is None or state.organisation_id != org:
                raise NotFoundError("no such credential")
            holder = await access.holder(conn, org, state.holder_id)
            if admin_only:
                if not (principal.has_role("admin") or principal.can("users:manage")):
                    raise ForbiddenError("only admins revoke, suspend or reinstate credentials")
            else:
                await access.require_manage(conn, principal, holder)
            rules = (
                await rules_for(access.replica, conn, org, state.credential_type_id)
                if needs_rules
                else None
            )
            command = await command_for(conn, state)
            _, version, recorded = await execute(
                store,
                conn,
                credential_id,
                command,
                metadata(request, principal, org),
                if_match,
                rules,
                HolderInfo(active=holder.status == "active"),
                loaded,
            )
            return answer(credential_id, version), recorded

        return await run(
            request, principal, org, key, payload, work, staged=(credential_id, staged)
        )

    @router.post("/{credential_id}/versions", status_code=201, openapi_extra=MULTIPART_BODY)
    async def add_version(
        org: UUID,
        credential_id: UUID,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
    ) -> Body:
        """Renew: a new version becomes the latest; earlier ones are kept."""
        principal.require_organisation(org)
        body, files = await read_input(request, VersionInput)
        stored = await staging.stage(principal, org, credential_id, files, idempotency_key)

        async def command(conn: Conn, state: domain.Credential) -> domain.Command:
            return AddVersion(
                uuid7(), VersionDetails(**body.model_dump(), media=tuple(stored)), principal.user_id
            )

        payload = [body.model_dump(mode="json"), [f.filename for f in files]]
        return await change(
            request,
            principal,
            org,
            credential_id,
            idempotency_key,
            if_match,
            payload,
            command,
            needs_rules=True,
            staged=stored,
        )

    @router.patch("/{credential_id}/latest")
    async def edit_latest(
        org: UUID,
        credential_id: UUID,
        body: EditInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
    ) -> Body:
        """Correct the latest version. Fields sent (null clears) change; others stay."""
        changes = {cast(EditableField, name): getattr(body, name) for name in body.model_fields_set}

        async def command(conn: Conn, state: domain.Credential) -> domain.Command:
            return EditLatest(principal.user_id, changes)

        return await change(
            request,
            principal,
            org,
            credential_id,
            idempotency_key,
            if_match,
            body.model_dump(mode="json", exclude_unset=True),
            command,
            needs_rules=True,
        )

    @router.post("/{credential_id}/media", status_code=201)
    async def attach_media(
        org: UUID,
        credential_id: UUID,
        file: UploadFile,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
    ) -> Body:
        principal.require_organisation(org)
        stored = await staging.stage(principal, org, credential_id, [file], idempotency_key)

        async def command(conn: Conn, state: domain.Credential) -> domain.Command:
            # Nothing staged only for a repeated key, whose first outcome is answered instead.
            assert stored, "a replayed command is never decided again"
            return AttachMedia(stored[0], principal.user_id)

        return await change(
            request,
            principal,
            org,
            credential_id,
            idempotency_key,
            if_match,
            ["attach", file.filename, file.size],
            command,
            staged=stored,
        )

    @router.delete("/{credential_id}/media/{media_id}")
    async def remove_media(
        org: UUID,
        credential_id: UUID,
        media_id: UUID,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
    ) -> Body:
        """Remove one file; the credential stays."""

        async def command(conn: Conn, state: domain.Credential) -> domain.Command:
            await conn.execute(
                "INSERT INTO media_deletions (object_key) VALUES (%s) ON CONFLICT DO NOTHING",
                (object_key(org, credential_id, media_id),),
            )
            return RemoveMedia(media_id, principal.user_id)

        result = await change(
            request,
            principal,
            org,
            credential_id,
            idempotency_key,
            if_match,
            ["remove", str(media_id)],
            command,
        )
        await staging.sweep()
        return result

    async def delete_one(
        conn: Conn,
        request: Request,
        principal: Principal,
        org: UUID,
        credential_id: UUID,
        reason: str | None,
    ) -> tuple[Body, Sequence[RecordedEvent]]:
        loaded = await load(store, conn, credential_id)
        state = loaded.state
        if state is None or state.organisation_id != org:
            raise NotFoundError("no such credential")
        await access.require_manage(
            conn, principal, await access.holder(conn, org, state.holder_id)
        )
        _, version, recorded = await execute(
            store,
            conn,
            credential_id,
            Delete(principal.user_id, reason),
            metadata(request, principal, org),
            None,
            loaded=loaded,
        )
        keys = [object_key(org, credential_id, m.media_id) for v in state.versions for m in v.media]
        if keys:
            await conn.cursor().executemany(
                "INSERT INTO media_deletions (object_key) VALUES (%s) ON CONFLICT DO NOTHING",
                [(k,) for k in keys],
            )
        return answer(credential_id, version), recorded

    @router.delete("/{credential_id}")
    async def delete_credential(
        org: UUID,
        credential_id: UUID,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        """Delete a credential with its versions; its files are removed afterwards."""
        result = await run(
            request,
            principal,
            org,
            idempotency_key,
            "delete",
            lambda conn: delete_one(conn, request, principal, org, credential_id, None),
        )
        await staging.sweep()
        return result

    @router.post("/delete")
    async def delete_many(
        org: UUID,
        body: DeleteManyInput,
        request: Request,
        principal: CurrentPrincipal,
    ) -> Body:
        """Delete many credentials; each succeeds or fails on its own, with its reason. A caller
        with no right to manage credentials at all is refused as a whole (403)."""
        principal.require_organisation(org)
        async with context.pool.connection() as conn:
            if not await access.may_manage_anyone(conn, principal):
                raise ForbiddenError("you may not delete credentials in this organisation")
        results: list[Body] = []
        for credential_id in body.credential_ids:
            work = functools.partial(
                delete_one,
                request=request,
                principal=principal,
                org=org,
                credential_id=credential_id,
                reason=body.reason,
            )
            try:
                results.append(await run(request, principal, org, None, None, work))
            except (DomainError, ProblemError) as exc:
                detail = exc.message if isinstance(exc, DomainError) else exc.detail
                results.append(
                    {"credential_id": str(credential_id), "status": exc.status, "error": detail}
                )
        await staging.sweep()
        deleted = sum(1 for r in results if "error" not in r)
        return {"deleted": deleted, "failed": len(results) - deleted, "results": results}

    add_lifecycle_routes(router, change)
    return router
