"""Mail: queued in the deciding transaction, sent over SMTP by a relay.

`enqueue` writes a row into `mail_outbox` inside the caller's transaction: the mail exists
exactly when the decision that caused it committed, and a redelivered event whose effects were
already applied never queues it again. The `MailRelay` sends due rows one mail at a time:

1. it claims the mail for `claim_s` seconds and commits (`FOR UPDATE SKIP LOCKED`: two relays
   never claim the same row); a digest's rows are claimed as one group, and a lapsed claim is
   taken again whole, so a mail sent again has the same rows and the same Message-ID;
2. it hands the mail to the SMTP server (a server that cannot take it now releases the claim);
3. it marks the mail sent. When the database is away at that moment, the relay keeps the mark
   and writes it first once the database is back, before it claims anything else.

So neither a second relay nor a restarted database sends a mail twice. A relay killed between
2 and 3 sends that one mail again once its claim has lapsed: SMTP offers no way to close that
window, so every mail carries a stable Message-ID (its row id) that mail clients use to drop
the copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import UUID

import aiosmtplib
import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common import failpoints
from credflow_common.bulk import Column, arrays, unnest
from credflow_common.outages import OUTAGE_ERRORS, Outage
from credflow_common.waiting import poll_until_stopped
from credflow_contracts.ids import uuid7

MIGRATIONS = Path(__file__).resolve().parent / "mail_migrations"
SENDER = "credflow <no-reply@credflow.local>"
log = structlog.get_logger("credflow.mail")


@dataclass(frozen=True)
class Mail:
    organisation_id: UUID
    to_address: str
    subject: str
    body: str
    digest_key: str | None = None
    deliver_after: datetime | None = None  # None: at once
    mail_id: UUID = field(default_factory=uuid7)  # a derived id makes enqueueing idempotent
    people: tuple[UUID, ...] = ()  # whom it is to or about: erasing one of them deletes it


async def enqueue(
    conn: AsyncConnection[Any],
    organisation_id: UUID,
    to_address: str,
    subject: str,
    body: str,
    *,
    digest_key: str | None = None,
    deliver_after: datetime | None = None,
    mail_id: UUID | None = None,
) -> UUID:
    mail = Mail(organisation_id, to_address, subject, body, digest_key, deliver_after,
                mail_id or uuid7())  # fmt: skip
    await enqueue_many(conn, [mail])
    return mail.mail_id


MAIL_COLUMNS: tuple[Column[Mail], ...] = (
    Column("mail_id", "uuid", lambda m: m.mail_id),
    Column("organisation_id", "uuid", lambda m: m.organisation_id),
    Column("to_address", "text", lambda m: m.to_address),
    Column("subject", "text", lambda m: m.subject),
    Column("body", "text", lambda m: m.body),
    Column("digest_key", "text", lambda m: m.digest_key),
    Column("deliver_after", "timestamptz", lambda m: m.deliver_after),
    Column("people", "text", lambda m: ",".join(map(str, m.people))),
)


async def enqueue_many(conn: AsyncConnection[Any], mails: Sequence[Mail]) -> None:
    """Every mail in one statement; a mail id already queued is left as it is."""
    if not mails:
        return
    await conn.execute(
        "INSERT INTO mail_outbox (mail_id, organisation_id, to_address, subject, body,"  # noqa: S608 - constant columns
        " digest_key, deliver_after, people)"
        " SELECT m.mail_id, m.organisation_id, m.to_address, m.subject, m.body, m.digest_key,"
        " coalesce(m.deliver_after, now()),"
        " coalesce(string_to_array(nullif(m.people, ''), ',')::uuid[], '{}')"
        f" FROM {unnest(MAIL_COLUMNS, 'm')}"
        " ON CONFLICT (mail_id) DO NOTHING",
        arrays(MAIL_COLUMNS, mails),
    )


async def forget(conn: AsyncConnection[Any], organisation_id: UUID, person_id: UUID) -> int:
    """Delete every mail to or about the person, sent or not (their erasure); how many."""
    cursor = await conn.execute(
        "DELETE FROM mail_outbox WHERE organisation_id = %s AND people @> ARRAY[%s]::uuid[]",
        (organisation_id, person_id),
    )
    return max(cursor.rowcount, 0)


class MailRelay:
    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        smtp_host: str,
        smtp_port: int,
        *,
        poll_interval_s: float = 0.5,
        batch_size: int = 100,
        claim_s: float = 30.0,
    ) -> None:
        self.pool = pool
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.poll_interval_s = poll_interval_s
        self.batch_size = batch_size
        self.claim_s = claim_s
        self._stopping = asyncio.Event()
        self._sent_unmarked: list[UUID] = []  # accepted by the server, not yet marked sent
        self.outage = Outage("mail relay", self._stopping)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Send until `stop()`, waiting out outages of the database and the mail server."""
        await self.outage.retry(self._send_forever)

    async def _send_forever(self) -> None:
        async def send() -> bool:
            return await self.send_due() >= self.batch_size

        await poll_until_stopped(self.outage, send, interval_s=self.poll_interval_s)

    async def send_due(self) -> int:
        """Send due mails (a digest group as one mail), each claimed before and marked sent
        right after the SMTP server accepted it. Returns the rows handled."""
        await self._mark_sent()  # what a database outage kept from being marked
        handled = 0
        smtp: aiosmtplib.SMTP | None = None
        try:
            while handled < self.batch_size and (rows := await self._claim()):
                ids = [row[0] for row in rows]
                try:
                    if smtp is None:
                        smtp = aiosmtplib.SMTP(hostname=self.smtp_host, port=self.smtp_port)
                        await smtp.connect()
                    await smtp.send_message(_compose(rows))
                except (ValueError, aiosmtplib.SMTPRecipientsRefused) as exc:
                    await self._set_aside(ids, exc)  # never sendable: the next one goes
                except aiosmtplib.SMTPDataError as exc:
                    if exc.code < 500:
                        await self._release(ids)
                        raise  # the server asks to try again later: an outage
                    await self._set_aside(ids, exc)
                except Exception:
                    await self._release(ids)
                    raise
                else:
                    self._sent_unmarked += ids
                    await self._mark_sent()
                failpoints.hit("mail.after_commit")
                handled += len(rows)
        finally:
            if smtp is not None and smtp.is_connected:
                with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                    await smtp.quit()
        return handled

    def _may_take_lapsed_claims(self) -> bool:
        """Not for a claim period after an outage: a claim lapsed while the database was away
        may belong to a relay that sent the mail and could not mark it; it marks it first thing
        when the database is back (a copy went out when the outage outlasted the claim). Nor
        during the first round back, before the outage is known to have ended."""
        if self.outage.current is not None:
            return False
        ended = self.outage.ended_at
        return ended is None or time.monotonic() - ended > self.claim_s

    async def _claim(self) -> list[tuple[Any, ...]]:
        async with self.pool.connection() as conn, conn.transaction():
            rows = await _claim_next(conn, take_lapsed=self._may_take_lapsed_claims())
            if rows:
                await conn.execute(
                    "UPDATE mail_outbox SET claimed_until = now() + make_interval(secs => %s),"
                    " claim_group = %s WHERE mail_id = ANY(%s)",
                    (self.claim_s, rows[0][0], [row[0] for row in rows]),
                )
            return rows

    async def _mark_sent(self) -> None:
        """Mark what the server took as sent. Sends of one relay may overlap: each takes the
        ids there are now, and ids added while it marks wait for the next mark (clearing the
        list afterwards would drop them, and their mails would go out again)."""
        marking, self._sent_unmarked = self._sent_unmarked, []
        if not marking:
            return
        try:
            async with self.pool.connection() as conn:
                await conn.execute(
                    "UPDATE mail_outbox SET sent_at = now(), claimed_until = NULL"
                    " WHERE mail_id = ANY(%s)",
                    (marking,),
                )
        except BaseException:
            self._sent_unmarked = marking + self._sent_unmarked  # kept for the next try
            raise

    async def _release(self, ids: list[UUID]) -> None:
        """Not sent: another try may claim it at once (if the database answers; else the
        claim lapses)."""
        with contextlib.suppress(*OUTAGE_ERRORS):
            async with self.pool.connection() as conn:
                await conn.execute(
                    "UPDATE mail_outbox SET claimed_until = NULL WHERE mail_id = ANY(%s)", (ids,)
                )

    async def _set_aside(self, ids: list[UUID], exc: Exception) -> None:
        """A mail that cannot be composed, or that the server refuses for good (a recipient
        it rejects, a message it will not take): kept with the reason, and the queue goes
        on."""
        log.error("mail refused for good; set aside", mails=[str(i) for i in ids],
                  error=str(exc))  # fmt: skip
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE mail_outbox SET failed_at = now(), failure = %s, claimed_until = NULL"
                " WHERE mail_id = ANY(%s)",
                (str(exc)[:1000], ids),
            )


_SELECT_DUE = (  # due, and neither sent, set aside nor claimed by a relay at work on it
    "SELECT mail_id, to_address, subject, body, digest_key, claim_group FROM mail_outbox"
    " WHERE sent_at IS NULL AND failed_at IS NULL AND deliver_after <= now()"
    " AND (claimed_until IS NULL OR (%(take_lapsed)s AND claimed_until < now()))"
)


async def _claim_next(conn: AsyncConnection[Any], *, take_lapsed: bool) -> list[tuple[Any, ...]]:
    """The next due mail, locked; with a digest key, every due row of its (key, recipient).
    A lapsed claim is taken again whole (unless `take_lapsed` is false), its leader first: the
    same rows make the same mail."""
    cursor = await conn.execute(
        _SELECT_DUE + " AND (claim_group IS NULL OR claim_group = mail_id)"
        " ORDER BY deliver_after, mail_id LIMIT 1 FOR UPDATE SKIP LOCKED",
        {"take_lapsed": take_lapsed},
    )
    first = await cursor.fetchone()
    if first is None:
        return []
    if first[5] is not None:  # only the leader starts a claim, so its followers are free
        cursor = await conn.execute(
            "SELECT mail_id, to_address, subject, body, digest_key, claim_group"
            " FROM mail_outbox WHERE claim_group = %s AND mail_id <> %s"
            " AND sent_at IS NULL AND failed_at IS NULL ORDER BY created_at, mail_id FOR UPDATE",
            (first[5], first[0]),
        )
        return [first, *await cursor.fetchall()]
    if first[4] is None:
        return [first]
    cursor = await conn.execute(
        _SELECT_DUE + " AND claim_group IS NULL AND digest_key = %(key)s"
        " AND to_address = %(to)s AND mail_id <> %(first)s"
        " ORDER BY created_at, mail_id FOR UPDATE SKIP LOCKED",
        {"take_lapsed": take_lapsed, "key": first[4], "to": first[1], "first": first[0]},
    )
    return [first, *await cursor.fetchall()]


def _compose(rows: Sequence[tuple[Any, ...]]) -> EmailMessage:
    mail_id, to_address, subject, body, digest_key, _ = rows[0]
    if digest_key is None:
        return _message(mail_id, to_address, subject, body)
    subject = f"{len(rows)} credential(s) waiting for your review"
    body = "\n\n".join(f"- {row[2]}\n{row[3]}" for row in rows)
    return _message(mail_id, to_address, subject, body)


def one_line(text: str) -> str:
    """Header text on one line: line breaks and other control characters become spaces (a
    name with a line break would otherwise be refused by the mail library, or split the
    header)."""
    return " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in text).split())


def message_id(mail_id: UUID) -> str:
    """The Message-ID of a mail: the same every time its row is sent (a copy sent again after
    a crash is recognisably the same mail)."""
    return f"<{mail_id}@credflow.local>"


def _message(mail_id: UUID, to_address: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = one_line(to_address)
    message["Subject"] = one_line(subject)
    message["Message-ID"] = message_id(mail_id)
    message.set_content(body)
    return message
