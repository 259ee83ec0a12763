"""The submission service's reads: a credential as recorded here (the views, with statuses, live
in the projection) and short-lived signed URLs to its files, each after an authorisation check."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter

from credflow_common.auth import CurrentPrincipal, Principal
from credflow_common.directory_replica import DirectoryReplica
from credflow_common.media import MediaStore, download_name, object_key
from credflow_common.service import ServiceContext
from credflow_submission import domain
from credflow_submission.access import Access
from credflow_submission.domain import NotFoundError
from credflow_submission.store import Conn, load

Body = dict[str, Any]


def build(context: ServiceContext, media: MediaStore) -> APIRouter:
    store = context.event_store
    access = Access(DirectoryReplica())
    router = APIRouter(prefix="/organisations/{org}/credentials", tags=["credentials"])

    async def readable(
        conn: Conn, principal: Principal, org: UUID, credential_id: UUID
    ) -> tuple[domain.Credential, int]:
        principal.require_organisation(org)
        loaded = await load(store, conn, credential_id)
        state = loaded.state
        if (
            state is None
            or state.organisation_id != org
            or state.lifecycle == "deleted"
            or not await access.can_read(conn, principal, state.holder_id)
        ):
            raise NotFoundError("no such credential")
        return state, loaded.version

    @router.get("/{credential_id}")
    async def get_credential(org: UUID, credential_id: UUID, principal: CurrentPrincipal) -> Body:
        """The credential as recorded here (views with statuses live in the projection)."""
        async with context.pool.connection() as conn:
            state, version = await readable(conn, principal, org, credential_id)
        return {
            "credential_id": str(state.credential_id),
            "holder_id": str(state.holder_id),
            "credential_type_id": str(state.credential_type_id),
            "lifecycle": state.lifecycle,
            "version": version,
            "versions": [
                {
                    "version_id": str(v.version_id),
                    "number": v.number,
                    "title": v.title,
                    "issued_on": v.issued_on.isoformat(),
                    "expires_on": v.expires_on.isoformat() if v.expires_on else None,
                    "certification": v.certification.model_dump() if v.certification else None,
                    "issuer": v.issuer.model_dump() if v.issuer else None,
                    "notes": v.notes,
                    "media": [m.model_dump(mode="json") for m in v.media],
                }
                for v in state.versions
            ],
        }

    @router.get("/{credential_id}/media/{media_id}/url")
    async def media_url(
        org: UUID,
        credential_id: UUID,
        media_id: UUID,
        principal: CurrentPrincipal,
        disposition: Literal["inline", "attachment"] = "inline",
    ) -> Body:
        """A short-lived signed URL to one file, after an authorisation check: `inline` to show
        it in a browser, `attachment` to save it under its file name."""
        async with context.pool.connection() as conn:
            state, _ = await readable(conn, principal, org, credential_id)
        found = state.media(media_id)
        if found is None:
            raise NotFoundError("no such file on this credential")
        file = found[1]
        download_as = (
            download_name(file.file_name, file.kind) if disposition == "attachment" else None
        )
        url = await media.signed_url(object_key(org, credential_id, media_id), None, download_as)
        return {"url": url, "expires_in_seconds": int(media.url_expiry.total_seconds())}

    return router
