"""The submission service layer: each command loads its credential, checks the caller against
the directory replica, decides and appends, in one transaction with its idempotency key. Files
are stored before the transaction and discarded when the command fails."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from starlette.datastructures import UploadFile

from credflow_common import access_rules, requests
from credflow_common.directory_replica import DirectoryReplica
from credflow_common.errors import DomainError
from credflow_common.media import MediaStore, object_key
from credflow_common.problems import ProblemError, status_of
from credflow_common.requests import Body, Command
from credflow_common.service import ServiceContext
from credflow_contracts.events.values import MediaFile
from credflow_contracts.ids import uuid7
from credflow_submission import domain
from credflow_submission.access import Access, ForbiddenError
from credflow_submission.domain import Delete, HolderInfo, NotFoundError, Submit, VersionDetails
from credflow_submission.files import Files
from credflow_submission.inputs import CredentialInput, DeleteManyInput
from credflow_submission.store import Conn, Decision, Loaded, execute, load

Work = Callable[[Conn, Access], Awaitable[tuple[Body, Sequence[Any]]]]
CommandFor = Callable[[Conn, domain.Credential], Awaitable[domain.Command]]


@dataclass(frozen=True)
class Change:
    """A change to an existing credential: which, guarded by which version, checked how."""

    credential_id: UUID
    if_match: int | None = None
    needs_rules: bool = False  # the type's rules (a new version, an edit)
    admin_only: bool = False  # revoke, suspend, reinstate
    staged: Sequence[MediaFile] = ()


def answer(credential_id: UUID, version: int, extra: Body | None = None) -> Body:
    return {"credential_id": str(credential_id), "version": version, **(extra or {})}


class Credentials:
    def __init__(self, context: ServiceContext, media: MediaStore) -> None:
        self.pool = context.pool
        self.store = context.event_store
        self.files = Files(context.pool, self.store, Access(DirectoryReplica()), media)

    async def run(
        self,
        command: Command,
        work: Work,
        *,
        new: tuple[UUID, UUID] | None = None,
        staged: tuple[UUID, Sequence[MediaFile]] | None = None,
    ) -> Body:
        """`work` in the command's transaction, with an `Access` of its own. `new`: a new
        credential's holder and type, read with the settings in one query; `staged`: the
        credential's files stored for this command, discarded if it fails."""
        org = command.organisation_id
        command.principal.require_organisation(org)
        access = Access.for_command()

        async def checked(conn: Conn) -> tuple[Body, Sequence[Any]]:
            if new is not None:
                await access.preload(conn, org, *new)
            await access.settings(conn, org)  # 404 for an organisation this replica lacks
            return await work(conn, access)

        try:
            return await requests.run(self.pool, command, checked)
        except BaseException:
            if staged is not None:
                await self.files.discard(org, *staged)
            raise

    async def add(
        self, command: Command, body: CredentialInput, files: Sequence[UploadFile]
    ) -> Body:
        """Record a credential with its first version and files."""
        org, actor = command.organisation_id, command.actor_id
        credential_id = uuid7()
        holder_id = body.holder_id or actor
        stored = await self.files.stage(command, credential_id, files, holder_id=holder_id)

        async def work(conn: Conn, access: Access) -> tuple[Body, Sequence[Any]]:
            holder = await access.holder(conn, org, holder_id)
            await access.require_manage(conn, command.principal, holder)
            rules = await access.rules(conn, org, body.credential_type_id)
            details = VersionDetails(
                **body.model_dump(exclude={"credential_type_id", "holder_id"}), media=tuple(stored)
            )
            submit = Submit(credential_id, org, holder.user_id, body.credential_type_id, uuid7(),
                            details, actor)  # fmt: skip
            decision = Decision(rules=rules, holder=HolderInfo(active=holder.status == "active"))
            state, version, recorded = await execute(
                self.store, conn, credential_id, submit, command.metadata,
                loaded=Loaded(None, 0), decision=decision,  # a new id: no stream to load
            )  # fmt: skip
            assert state is not None
            expires_on = state.latest.expires_on
            return answer(credential_id, version, {
                "expires_on": expires_on.isoformat() if expires_on else None,
                "media": [m.model_dump(mode="json") for m in stored],
            }), recorded  # fmt: skip

        return await self.run(command, work, new=(holder_id, body.credential_type_id),
                              staged=(credential_id, stored))  # fmt: skip

    async def change(self, command: Command, change: Change, command_for: CommandFor) -> Body:
        org, principal = command.organisation_id, command.principal

        async def work(conn: Conn, access: Access) -> tuple[Body, Sequence[Any]]:
            loaded = await self._existing(conn, org, change.credential_id)
            assert loaded.state is not None
            holder = await access.holder(conn, org, loaded.state.holder_id)
            if change.admin_only:
                if not access_rules.administers_people(principal):
                    raise ForbiddenError("only admins revoke, suspend or reinstate credentials")
            else:
                await access.require_manage(conn, principal, holder)
            rules = (await access.rules(conn, org, loaded.state.credential_type_id)
                     if change.needs_rules else None)  # fmt: skip
            decided = await command_for(conn, loaded.state)
            decision = Decision(change.if_match, rules, HolderInfo(holder.status == "active"))
            _, version, recorded = await execute(
                self.store, conn, change.credential_id, decided, command.metadata,
                loaded=loaded, decision=decision,
            )  # fmt: skip
            return answer(change.credential_id, version), recorded

        return await self.run(command, work, staged=(change.credential_id, change.staged))

    async def delete(self, command: Command, credential_id: UUID, reason: str | None) -> Body:
        """Delete a credential with its versions; its files are removed afterwards."""
        org = command.organisation_id

        async def work(conn: Conn, access: Access) -> tuple[Body, Sequence[Any]]:
            loaded = await self._existing(conn, org, credential_id)
            state = loaded.state
            assert state is not None
            holder = await access.holder(conn, org, state.holder_id)
            await access.require_manage(conn, command.principal, holder)
            _, version, recorded = await execute(
                self.store, conn, credential_id, Delete(command.actor_id, reason),
                command.metadata, loaded=loaded,
            )  # fmt: skip
            keys = [object_key(org, credential_id, m.media_id)
                    for v in state.versions for m in v.media]  # fmt: skip
            await self.files.queue_deletions(conn, keys)
            return answer(credential_id, version), recorded

        return await self.run(command, work)

    async def delete_many(self, command: Command, body: DeleteManyInput) -> Body:
        """Each succeeds or fails on its own, with its reason. A caller with no right to manage
        credentials at all is refused as a whole (403)."""
        command.principal.require_organisation(command.organisation_id)
        async with self.pool.connection() as conn:
            if not await Access.for_command().may_manage_anyone(conn, command.principal):
                raise ForbiddenError("you may not delete credentials in this organisation")
        results: list[Body] = []
        for credential_id in body.credential_ids:
            try:
                results.append(await self.delete(command, credential_id, body.reason))
            except (DomainError, ProblemError) as exc:
                detail = exc.message if isinstance(exc, DomainError) else exc.detail
                status = status_of(exc) if isinstance(exc, DomainError) else exc.status
                results.append(
                    {"credential_id": str(credential_id), "status": status, "error": detail}
                )
        await self.files.sweep()
        deleted = sum(1 for r in results if "error" not in r)
        return {"deleted": deleted, "failed": len(results) - deleted, "results": results}

    async def _existing(self, conn: Conn, org: UUID, credential_id: UUID) -> Loaded:
        loaded = await load(self.store, conn, credential_id)
        if loaded.state is None or loaded.state.organisation_id != org:
            raise NotFoundError("no such credential")
        return loaded
