"""Erasures of people (ADR 0017): asked for by an admin holding `privacy:erase`, then carried
out step by step (`privacy.ERASURE_STEPS`) by the `ErasureRunner` task, each step's effect and
its record in one transaction: a process killed between two steps carries on where it stopped,
on any instance, and does no step twice. Asking again for the same person returns the same
erasure. After the last step (`PersonErased`), each service that holds personal data erases
its copies and reports (`consumers.erasure_reports_consumer`); the erasure completes, with its
receipt, when every one of `ErasureSettings.services` has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from credflow_common import failpoints
from credflow_common.auth import Principal
from credflow_common.errors import ForbiddenError, NotFoundError
from credflow_common.eventstore import Metadata
from credflow_contracts.events.directory import PersonErased, UserState, UserUpdated
from credflow_contracts.ids import uuid7
from credflow_directory import privacy
from credflow_directory.domain import changed_fields
from credflow_directory.person_keys import PersonKeys
from credflow_directory.store import DirectoryStore

Conn = AsyncConnection[Any]
Body = dict[str, Any]
ERASURES_CHANNEL = "directory_erasures"


def require_eraser(principal: Principal, org: UUID) -> None:
    principal.require_organisation(org)
    if not (principal.has_role("admin") and privacy.ERASE_PERMISSION in principal.permissions):
        raise ForbiddenError(
            f"erasing people needs the admin role and the {privacy.ERASE_PERMISSION} permission"
        )


@dataclass(frozen=True)
class Erasure:
    erasure_id: UUID
    organisation_id: UUID
    user_id: UUID
    requested_by: UUID
    requested_at: datetime
    completed_at: datetime | None

    @property
    def metadata(self) -> Metadata:
        return Metadata(self.organisation_id, correlation_id=self.erasure_id,
                        actor_id=self.requested_by)  # fmt: skip


_COLUMNS = "erasure_id, organisation_id, user_id, requested_by, requested_at, completed_at"
_RUNNABLE = (  # unfinished, and not yet past its last step (then waiting for the reports)
    "completed_at IS NULL AND NOT EXISTS (SELECT 1 FROM erasure_steps s"
    " WHERE s.erasure_id = erasures.erasure_id AND s.step = 'announced')"
)


class ErasureSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDFLOW_ERASURE_")

    services: list[str] = Field(
        default=["submission", "review", "importer", "reminder"],
        description="The services that hold personal data: an erasure completes when each has"
        " reported that it erased its copies (the views forget in the batch that applies"
        " PersonErased and do not report).",
    )


class Erasures:
    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        store: DirectoryStore,
        keys: PersonKeys,
        settings: ErasureSettings | None = None,
    ) -> None:
        self.pool, self.store, self.keys = pool, store, keys
        self.reporters = frozenset((settings or ErasureSettings()).services)

    async def request(self, principal: Principal, org: UUID, user_id: UUID) -> tuple[Body, bool]:
        """The person's erasure, and whether this request started it."""
        require_eraser(principal, org)
        async with self.pool.connection() as conn, conn.transaction():
            found = await self._of_person(conn, org, user_id)
            if found is not None:
                return await self._view(conn, found), False
            person, _ = await self.store.get(conn, org, "user", user_id, UserState)
            privacy.check_erasable(person, await self._other_active_admins(conn, org, user_id))
            await conn.execute(
                "INSERT INTO erasures (erasure_id, organisation_id, user_id, requested_by)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (organisation_id, user_id) DO NOTHING",
                (uuid7(), org, user_id, principal.user_id),
            )
            await conn.execute("SELECT pg_notify(%s, '')", (ERASURES_CHANNEL,))
            stored = await self._of_person(conn, org, user_id)
            assert stored is not None  # ours, or a request that got there first
            return await self._view(conn, stored), stored.requested_by == principal.user_id

    async def get(self, principal: Principal, org: UUID, erasure_id: UUID) -> Body:
        require_eraser(principal, org)
        async with self.pool.connection() as conn:
            found = await self._one(conn, "erasure_id = %s AND organisation_id = %s",
                                    (erasure_id, org))  # fmt: skip
            if found is None:
                raise NotFoundError(f"no erasure {erasure_id}")
            return await self._view(conn, found)

    async def asked_for(self, conn: Conn, org: UUID, user_id: UUID) -> bool:
        """Whether the person's erasure was asked for (from then on no key is handed out)."""
        return await self._of_person(conn, org, user_id) is not None

    async def run_next_step(self) -> bool:
        """Do the next step of the oldest unfinished erasure; whether there was one."""
        async with self.pool.connection() as conn, conn.transaction():
            erasure = await self._one(
                conn, f"{_RUNNABLE} ORDER BY requested_at LIMIT 1 FOR UPDATE SKIP LOCKED"
            )
            if erasure is None:
                return False
            step = privacy.next_erasure_step(await self._steps_done(conn, erasure))
            if step is not None:
                detail = await self._do(conn, erasure, step)
                await conn.execute(
                    "INSERT INTO erasure_steps (erasure_id, step, detail) VALUES (%s, %s, %s)",
                    (erasure.erasure_id, step, Jsonb(detail)),
                )
            await self.complete_if_reported(conn, erasure.erasure_id)
        failpoints.hit("erasure.after_step")
        return True

    async def complete_if_reported(self, conn: Conn, erasure_id: UUID) -> bool:
        """Complete the erasure once its steps are done and every service has reported."""
        steps = await conn.execute(
            "SELECT count(*) FROM erasure_steps WHERE erasure_id = %s", (erasure_id,)
        )
        done = await steps.fetchone()
        if done is None or done[0] < len(privacy.ERASURE_STEPS):
            return False
        if self.reporters - set(await self._reported(conn, erasure_id)):
            return False
        completed = await conn.execute(
            "UPDATE erasures SET completed_at = now() WHERE erasure_id = %s"
            " AND completed_at IS NULL",
            (erasure_id,),
        )
        return completed.rowcount == 1

    async def _reported(self, conn: Conn, erasure_id: UUID) -> dict[str, tuple[datetime, Body]]:
        cursor = await conn.execute(
            "SELECT service, reported_at, deleted FROM erasure_reports WHERE erasure_id = %s"
            " ORDER BY service",
            (erasure_id,),
        )
        return {service: (at, deleted) for service, at, deleted in await cursor.fetchall()}

    async def _do(self, conn: Conn, erasure: Erasure, step: str) -> Body:
        org, user_id = erasure.organisation_id, erasure.user_id
        person, version = await self.store.get(conn, org, "user", user_id, UserState)
        if person is None:
            return {}
        match step:
            case "deactivated":
                inactive = person.model_copy(update={"status": "deactivated"})
                return await self._change(conn, erasure, person, version, inactive)
            case "key_destroyed":
                return {"destroyed": await self.keys.destroy(conn, org, user_id)}
            case "personal_fields_replaced":
                return await self._change(conn, erasure, person, version, privacy.erased(person))
            case "announced":
                announced = PersonErased(
                    organisation_id=org, user_id=user_id, erasure_id=erasure.erasure_id,
                    erased_at=datetime.now(UTC),
                )  # fmt: skip
                await self.store.save(
                    conn, org, "user", user_id, expected_version=version, events=[announced],
                    state=person, metadata=erasure.metadata,
                )  # fmt: skip
                return {}
        raise ValueError(f"no erasure step {step!r}")

    async def _change(
        self, conn: Conn, erasure: Erasure, person: UserState, version: int, after: UserState
    ) -> Body:
        changed = changed_fields(person, after)
        if changed:
            event = UserUpdated(organisation_id=erasure.organisation_id, user=after,
                                changed=changed, changed_by=erasure.requested_by)  # fmt: skip
            await self.store.save(conn, erasure.organisation_id, "user", erasure.user_id,
                                  expected_version=version, events=[event], state=after,
                                  metadata=erasure.metadata)  # fmt: skip
        return {"fields": changed}

    async def _steps_done(self, conn: Conn, erasure: Erasure) -> list[str]:
        cursor = await conn.execute(
            "SELECT step FROM erasure_steps WHERE erasure_id = %s", (erasure.erasure_id,)
        )
        return [row[0] for row in await cursor.fetchall()]

    async def _other_active_admins(self, conn: Conn, org: UUID, user_id: UUID) -> int:
        cursor = await conn.execute(
            "SELECT count(*) FROM entities WHERE organisation_id = %s AND kind = 'user'"
            " AND id <> %s AND state->>'status' = 'active' AND state->'roles' ? 'admin'",
            (org, str(user_id)),
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _of_person(self, conn: Conn, org: UUID, user_id: UUID) -> Erasure | None:
        return await self._one(conn, "organisation_id = %s AND user_id = %s", (org, user_id))

    async def _one(self, conn: Conn, where: str, params: tuple[Any, ...] = ()) -> Erasure | None:
        cursor = await conn.execute(
            f"SELECT {_COLUMNS} FROM erasures WHERE {where}",  # noqa: S608 - our own clauses
            params,
        )
        row = await cursor.fetchone()
        return Erasure(*row) if row else None

    async def _view(self, conn: Conn, erasure: Erasure) -> Body:
        cursor = await conn.execute(
            "SELECT step, done_at, detail FROM erasure_steps WHERE erasure_id = %s",
            (erasure.erasure_id,),
        )
        steps = {step: (done_at, detail) for step, done_at, detail in await cursor.fetchall()}
        reports = await self._reported(conn, erasure.erasure_id)
        body: Body = {
            "erasure_id": str(erasure.erasure_id),
            "organisation_id": str(erasure.organisation_id),
            "user_id": str(erasure.user_id),
            "requested_by": str(erasure.requested_by),
            "requested_at": erasure.requested_at.isoformat(),
            "status": "completed" if erasure.completed_at else "in_progress",
            "steps": [
                {"step": name, "done_at": steps[name][0].isoformat()}
                for name in privacy.ERASURE_STEPS
                if name in steps
            ],
            "services": [
                {"service": name, "reported_at": _reported_at(reports, name)}
                for name in sorted(self.reporters | set(reports))
            ],
            "receipt": None,
        }
        if erasure.completed_at is not None:
            body["receipt"] = receipt(erasure, steps, reports)
        return body


def _reported_at(reports: dict[str, tuple[datetime, Body]], service: str) -> str | None:
    return reports[service][0].isoformat() if service in reports else None


DELETED_BY = {
    "submission": "the files of the person's credentials, every object and object version",
    "review": "every mail to or about the person, sent or pending",
    "importer": "numbers, issuers, notes and file names in the person's import rows, and the"
    " file names of imports they uploaded",
    "reminder": "pending reminders, the record of reminders sent, notification settings and"
    " every mail to or about the person",
}


def receipt(
    erasure: Erasure,
    steps: dict[str, tuple[datetime, Body]],
    reports: dict[str, tuple[datetime, Body]],
) -> Body:
    """What the erasure did, and when: only what was done, nothing it did not do."""

    def at(step: str) -> str:
        return steps[step][0].isoformat()

    assert erasure.completed_at is not None
    key = {
        "what": "the person's data key: a field sealed with it, in any copy, can no longer be"
        " opened",
        "existed": bool(steps["key_destroyed"][1].get("destroyed")),
        "at": at("key_destroyed"),
    }
    names = {
        "what": f"name and email, by '{privacy.ERASED_NAME}', in the directory and, through its"
        " events, in every service's copy and the views",
        "fields": steps["personal_fields_replaced"][1].get("fields", []),
        "at": at("personal_fields_replaced"),
    }
    deleted = [
        {
            "service": service,
            "what": DELETED_BY.get(service, service),
            "counts": counts,
            "at": reported_at.isoformat(),
        }
        for service, (reported_at, counts) in reports.items()
    ]
    return {
        "deactivated_at": at("deactivated"),
        "destroyed": [key],
        "deleted": deleted,
        "replaced": [names],
        "announced": {"event": PersonErased.ce_type(), "at": at("announced")},
        "completed_at": erasure.completed_at.isoformat(),
    }
