"""The scheduler: sends what is due, publishes CredentialExpired, catches up after downtime.

Each `tick` walks the schedule rows whose next due date has come somewhere on earth, in chunks,
each chunk one transaction holding its rows' locks (`FOR UPDATE SKIP LOCKED`: a second instance
takes other rows). For each credential `domain.plan` says what is due today in the holder's and
the organisation's time zones; the chunk then writes, together, the sent-ledger rows, the mails
(`mail_outbox`, sent by the mail relay), ReminderSent and CredentialExpired (event store and
outbox) and the rows' next due dates. A reminder's id is the ledger's key, the mail's id and the
event's stream, so nothing is recorded, mailed or published twice, even by two instances.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common import mail
from credflow_common.directory_replica import BatchReplica
from credflow_common.eventstore import Append, EventStore, Metadata
from credflow_common.outages import Outage
from credflow_common.waiting import until_any
from credflow_contracts.events.base import Event
from credflow_contracts.events.credentials import CredentialExpired
from credflow_contracts.events.directory import OrganisationSettings, UserState
from credflow_contracts.events.reminders import ReminderSent
from credflow_reminder import domain
from credflow_reminder.domain import NotificationSettings, Person, Stage, Tracked
from credflow_reminder.store import COLUMNS, settings_of

log = structlog.get_logger("credflow.reminder")
Conn = AsyncConnection[Any]
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class LedgerEntry:
    reminder_id: UUID
    tracked: Tracked
    stage: Stage
    role: str
    recipient_id: UUID | None
    outcome: str


class Scheduler:
    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        store: EventStore,
        clock: Clock,
        interval_s: float = 60.0,
        chunk_size: int = 500,
    ) -> None:
        self.pool = pool
        self.store = store
        self.clock = clock
        self.interval_s = interval_s
        self.chunk_size = chunk_size
        self._stopping = asyncio.Event()
        self.outage = Outage("reminder scheduler", self._stopping)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Tick until `stop()`. A tick that meets an outage is tried again as soon as the
        dependency is back; one that fails otherwise is logged and tried at the next tick."""
        while not self._stopping.is_set():
            try:
                await self.outage.retry(self._tick)
            except Exception:  # not an outage: log it, the next tick tries again
                log.exception("reminder tick failed")
            await until_any(self._stopping, timeout_s=self.interval_s)

    async def _tick(self) -> None:
        await self.tick()
        self.outage.cleared()

    async def tick(self) -> int:
        """Handle everything due now; returns the number of credentials looked at."""
        now = self.clock()
        horizon = domain.latest_local_date(now)
        after = UUID(int=0)
        seen = 0
        while True:
            async with self.pool.connection() as conn, conn.transaction():
                cursor = await conn.execute(
                    f"SELECT {COLUMNS} FROM schedule"  # noqa: S608
                    " WHERE next_due_on <= %s AND credential_id > %s"
                    " ORDER BY credential_id LIMIT %s FOR UPDATE SKIP LOCKED",
                    (horizon, after, self.chunk_size),
                )
                chunk = [Tracked(*row) for row in await cursor.fetchall()]
                if not chunk:
                    return seen
                await self._handle(conn, chunk, now)
            seen += len(chunk)
            after = chunk[-1].credential_id

    async def _handle(self, conn: Conn, chunk: Sequence[Tracked], now: datetime) -> None:
        replica = BatchReplica()
        for org in {c.organisation_id for c in chunk}:
            mine = [c for c in chunk if c.organisation_id == org]
            await replica.preload(
                conn, org, {c.holder_id for c in mine}, {c.credential_type_id for c in mine},
                with_admins=False,
            )  # fmt: skip
        settings = await settings_of(conn, {(c.organisation_id, c.holder_id) for c in chunk})
        done = await _done_stages(conn, chunk)
        ledger: list[LedgerEntry] = []
        mails: list[mail.Mail] = []
        appends: list[Append] = []
        next_due: list[tuple[UUID, date | None, UUID | None]] = []
        waiting: list[str] = []
        for tracked in chunk:
            facts = await _directory_facts(conn, replica, tracked)
            if facts is None:
                # The credential's events overtook the directory events in this service's
                # replica: wait for them (the row stays due) rather than skip a reminder,
                # drop the manager's copy or name the type "credential".
                waiting.append(str(tracked.credential_id))
                continue
            org_settings, holder, manager, type_name = facts
            org_zone = org_settings.time_zone
            choice = settings.get(
                (tracked.organisation_id, tracked.holder_id), NotificationSettings()
            )
            plan = domain.plan(
                tracked,
                choice.lead_days,
                done.get((tracked.version_id, tracked.expires_on), set()),
                domain.today_in(holder.time_zone, now, org_zone),
                domain.today_in(org_zone, now),
            )
            ledger += [_skipped(tracked, stage) for stage in plan.skip]
            if plan.send is not None:
                sent = self._reminders(
                    tracked, plan.send, choice, holder=holder, manager=manager,
                    type_name=type_name, org_settings=org_settings, now=now,
                )  # fmt: skip
                ledger += [entry for entry, _, _ in sent] or [_skipped(tracked, plan.send)]
                mails += [message for _, message, _ in sent]
                appends += [append for _, _, append in sent]
            expired_version = tracked.expired_version_id
            if plan.publish_expired:
                expiry = _expired(tracked, now)
                # Published already (a row written back stale): record it, do not fail the chunk.
                if await self.store.current_version(conn, expiry.stream_id) == 0:
                    appends.append(expiry)
                expired_version = tracked.version_id
            next_due.append((tracked.credential_id, plan.next_due_on, expired_version))
        await _record(conn, ledger)
        await mail.enqueue_many(conn, mails)
        await self.store.append_many(conn, appends)
        await conn.execute(
            "UPDATE schedule s SET next_due_on = n.next_due_on,"
            " expired_version_id = n.expired_version_id, updated_at = now()"
            " FROM unnest(%b::uuid[], %b::date[], %b::uuid[])"
            " AS n (credential_id, next_due_on, expired_version_id)"
            " WHERE s.credential_id = n.credential_id",
            [[n[0] for n in next_due], [n[1] for n in next_due], [n[2] for n in next_due]],
        )
        if waiting:
            log.info(
                "directory data not replicated yet; retrying at the next tick",
                credentials=len(waiting),
                first=waiting[:5],
            )
        if ledger or appends:
            log.info(
                "reminders handled",
                sent=sum(1 for e in ledger if e.outcome == "sent"),
                skipped=sum(1 for e in ledger if e.outcome == "skipped"),
                expired=sum(1 for a in appends if a.stream_id.startswith("expiry-")),
            )

    def _reminders(
        self,
        tracked: Tracked,
        stage: Stage,
        choice: NotificationSettings,
        *,
        holder: Person,
        manager: Person | None,
        type_name: str,
        org_settings: OrganisationSettings,
        now: datetime,
    ) -> list[tuple[LedgerEntry, mail.Mail, Append]]:
        if tracked.expires_on is None:
            return []
        found = []
        for recipient in domain.recipients(stage, choice, holder, manager):
            reminder_id = domain.reminder_id(tracked, stage, recipient.role)
            date_format = recipient.person.date_format or org_settings.default_date_format
            text = domain.mail_text(
                stage, recipient, holder, type_name, expires_on=tracked.expires_on,
                date_format=date_format,
                holder_today=domain.today_in(holder.time_zone, now, org_settings.time_zone),
            )  # fmt: skip
            event = ReminderSent(
                reminder_id=reminder_id,
                organisation_id=tracked.organisation_id,
                credential_id=tracked.credential_id,
                version_id=tracked.version_id,
                holder_id=tracked.holder_id,
                recipient_id=recipient.person.user_id,
                recipient_role=recipient.role,
                kind=stage.kind,
                days_before_expiry=stage.days_before_expiry,
                expires_on=tracked.expires_on,
                sent_at=now,
            )
            metadata = Metadata(tracked.organisation_id, correlation_id=tracked.credential_id)
            found.append((
                LedgerEntry(reminder_id, tracked, stage, recipient.role,
                            recipient.person.user_id, "sent"),
                mail.Mail(tracked.organisation_id, recipient.person.email, text.subject,
                          text.body, mail_id=reminder_id,
                          people=(recipient.person.user_id, tracked.holder_id)),
                Append(f"reminder-{reminder_id}", 0, [event], metadata),
            ))  # fmt: skip
        return found


async def _directory_facts(
    conn: Conn, replica: BatchReplica, tracked: Tracked
) -> tuple[OrganisationSettings, Person, Person | None, str] | None:
    """The organisation's settings, the holder, their manager and the type's name; None while
    the replica lacks any of them (users and types are never deleted, so they will come)."""
    org = tracked.organisation_id
    settings = await replica.settings(conn, org)
    holder = _person(await replica.user(conn, org, tracked.holder_id))
    kind = await replica.credential_type(conn, org, tracked.credential_type_id)
    if settings is None or holder is None or kind is None:
        return None
    manager = None
    if holder.manager_id is not None:
        manager = _person(await replica.user(conn, org, holder.manager_id))
        if manager is None:
            return None
    return settings, holder, manager, kind.name


def _person(user: UserState | None) -> Person | None:
    if user is None:
        return None
    return Person(
        user.user_id, user.email, user.name, user.status == "active", user.manager_id,
        user.time_zone, user.date_format,
    )  # fmt: skip


def _skipped(tracked: Tracked, stage: Stage) -> LedgerEntry:
    assert tracked.expires_on is not None
    skipped_id = uuid5(tracked.version_id, f"{tracked.expires_on}:{stage.key}:skipped")
    return LedgerEntry(skipped_id, tracked, stage, "none", None, "skipped")


def _expired(tracked: Tracked, now: datetime) -> Append:
    assert tracked.expires_on is not None
    events: list[Event] = [
        CredentialExpired(
            credential_id=tracked.credential_id,
            organisation_id=tracked.organisation_id,
            holder_id=tracked.holder_id,
            credential_type_id=tracked.credential_type_id,
            version_id=tracked.version_id,
            expires_on=tracked.expires_on,
            detected_at=now,
        )
    ]
    metadata = Metadata(tracked.organisation_id, correlation_id=tracked.credential_id)
    return Append(f"expiry-{tracked.version_id}", 0, events, metadata)


async def _done_stages(
    conn: Conn, chunk: Sequence[Tracked]
) -> dict[tuple[UUID, date | None], set[str]]:
    cursor = await conn.execute(
        "SELECT version_id, expires_on, stage FROM sent_ledger WHERE version_id = ANY(%s)",
        ([c.version_id for c in chunk],),
    )
    done: dict[tuple[UUID, date | None], set[str]] = {}
    for version_id, expires_on, stage in await cursor.fetchall():
        done.setdefault((version_id, expires_on), set()).add(stage)
    return done


async def _record(conn: Conn, entries: Sequence[LedgerEntry]) -> None:
    if not entries:
        return
    await conn.execute(
        "INSERT INTO sent_ledger (reminder_id, organisation_id, credential_id, version_id,"
        " expires_on, stage, recipient_role, recipient_id, outcome)"
        " SELECT * FROM unnest(%b::uuid[], %b::uuid[], %b::uuid[], %b::uuid[], %b::date[],"
        " %b::text[], %b::text[], %b::uuid[], %b::text[])",
        [
            [e.reminder_id for e in entries],
            [e.tracked.organisation_id for e in entries],
            [e.tracked.credential_id for e in entries],
            [e.tracked.version_id for e in entries],
            [e.tracked.expires_on for e in entries],
            [e.stage.key for e in entries],
            [e.role for e in entries],
            [e.recipient_id for e in entries],
            [e.outcome for e in entries],
        ],
    )
