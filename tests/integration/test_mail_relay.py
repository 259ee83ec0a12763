"""The mail relay against the real SMTP sink: each queued mail is sent once, by one relay."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common import mail
from credflow_common.db import schema_pool
from credflow_common.migrations import migrate
from tests.e2e.system import free_port
from tests.factories import ORG
from tests.infrastructure import Infrastructure
from tests.polling import eventually, running

pytestmark = pytest.mark.integration


async def test_two_relays_send_each_mail_once_and_a_restart_sends_nothing_again(
    infra: Infrastructure, database_url: str, unique: str
) -> None:
    await migrate(database_url, "mailer", [mail.MIGRATIONS])
    pool: AsyncConnectionPool[AsyncConnection[Any]] = schema_pool(database_url, "mailer")
    await pool.open()
    try:
        async with pool.connection() as conn:
            queued = [
                await mail.enqueue(
                    conn,
                    ORG,
                    f"r{n}-{unique}@example.test",
                    f"Reminder {n} {unique}",
                    "Your first aid certificate expires in 30 days.",
                )
                for n in range(40)
            ]
        relays = [
            mail.MailRelay(pool, infra.smtp_host, infra.smtp_port, batch_size=7) for _ in range(2)
        ]

        async def all_sent() -> bool:
            async with pool.connection() as conn:
                cursor = await conn.execute(
                    "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL"
                )
                row = await cursor.fetchone()
                return row == (0,)

        async with running(relays[0]), running(relays[1]):
            await eventually(all_sent)
        async with running(mail.MailRelay(pool, infra.smtp_host, infra.smtp_port)):
            await asyncio.sleep(1)  # a restarted relay finds nothing to send
        async with httpx.AsyncClient(base_url=infra.mail_api_url) as client:
            found = await client.get(
                "/api/v1/search", params={"query": f"subject:{unique}", "limit": 1000}
            )
        ours = found.json()["messages"]
        assert len(ours) == 40
        assert len({m["To"][0]["Address"] for m in ours}) == 40
        assert {m["MessageID"] for m in ours} == {mail.message_id(i) for i in queued}
    finally:
        await pool.close()


async def test_a_mail_sent_again_after_a_crash_carries_the_same_message_id(
    infra: Infrastructure, database_url: str, unique: str
) -> None:
    """Killed after the SMTP server accepted a mail and before the relay marked it sent, the
    relay sends it again: the copy must be recognisable as the same mail."""
    await migrate(database_url, "mailer", [mail.MIGRATIONS])
    pool: AsyncConnectionPool[AsyncConnection[Any]] = schema_pool(database_url, "mailer")
    await pool.open()
    try:
        async with pool.connection() as conn:
            mail_id = await mail.enqueue(conn, ORG, f"again-{unique}@example.test",
                                         f"Once {unique}", "Sent twice.")  # fmt: skip
        relay = mail.MailRelay(pool, infra.smtp_host, infra.smtp_port)
        assert await relay.send_due() == 1
        async with pool.connection() as conn:  # what a kill before the commit leaves
            await conn.execute("UPDATE mail_outbox SET sent_at = NULL")
        assert await relay.send_due() == 1
        async with httpx.AsyncClient(base_url=infra.mail_api_url) as client:
            found = await client.get("/api/v1/search", params={"query": f"subject:{unique}"})
        copies = found.json()["messages"]
        assert [m["MessageID"] for m in copies] == [mail.message_id(mail_id)] * 2
    finally:
        await pool.close()


class CuttingTheDatabaseOff:
    """An SMTP server that, as it accepts a mail, ends every other session of the database:
    the relay's mark that the mail was sent meets a database that went away."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.received: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        self.received.append(envelope.original_content.decode())
        return "250 Message accepted for delivery"


async def test_a_database_lost_right_after_the_server_took_a_mail_sends_it_once(
    database_url: str, unique: str
) -> None:
    await migrate(database_url, "mailer", [mail.MIGRATIONS])
    # Unchecked: the mark is handed the pooled connection the database ended, as happens when
    # a connection is lost between the pool's check and its use (checked, the pool would
    # replace it first and the mark would simply succeed).
    pool: AsyncConnectionPool[AsyncConnection[Any]] = schema_pool(
        database_url, "mailer", check_connections=False
    )
    await pool.open()
    server = CuttingTheDatabaseOff(database_url)
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        async with pool.connection() as conn:
            await mail.enqueue(conn, ORG, f"once-{unique}@example.test", "Once", "Only once.")
        relay = mail.MailRelay(pool, "127.0.0.1", controller.port)
        with pytest.raises(psycopg.OperationalError):
            await relay.send_due()  # sent; the mark met the lost database
        await pool.check()  # the pool lets go of its ended sessions: the database is back
        assert await relay.send_due() == 0, "marked first thing, nothing sent again"
        async with pool.connection() as conn:
            cursor = await conn.execute("SELECT sent_at IS NOT NULL FROM mail_outbox")
            assert await cursor.fetchall() == [(True,)]
        assert len(server.received) == 1
    finally:
        controller.stop()
        await pool.close()


async def test_a_claim_that_lapsed_in_a_database_outage_is_left_to_its_holder_to_mark(
    database_url: str, unique: str
) -> None:
    """Relay A sent a mail and could not mark it: the database went away, for longer than the
    claim. Relay B, back from the same outage, leaves the lapsed claim alone for a claim period,
    and A marks it first thing: the mail goes out once (with the claim simply taken again, B
    sent a copy)."""
    await migrate(database_url, "mailer", [mail.MIGRATIONS])
    pool: AsyncConnectionPool[AsyncConnection[Any]] = schema_pool(
        database_url, "mailer", check_connections=False
    )
    await pool.open()
    server = CuttingTheDatabaseOff(database_url)
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        async with pool.connection() as conn:
            await mail.enqueue(conn, ORG, f"lapsed-{unique}@example.test", "Once", "Only once.")
        holder = mail.MailRelay(pool, "127.0.0.1", controller.port, claim_s=1.0)
        with pytest.raises(psycopg.OperationalError):
            await holder.send_due()  # sent; the mark met the lost database
        await pool.check()
        await asyncio.sleep(1.2)  # the claim lapsed meanwhile
        other = mail.MailRelay(pool, "127.0.0.1", controller.port, claim_s=1.0)
        other.outage.failed(psycopg.OperationalError("the database restarted"))
        assert await other.send_due() == 0, "its first round back leaves the lapsed claim alone"
        other.outage.cleared()  # that round ended the outage
        assert await other.send_due() == 0, "the lapsed claim is left to its holder"
        assert await holder.send_due() == 0, "which marks it first thing"
        await asyncio.sleep(1.2)
        assert await other.send_due() == 0, "sent and marked: nothing to send"
        assert len(server.received) == 1
    finally:
        controller.stop()
        await pool.close()


async def test_a_subject_with_line_breaks_is_sent_on_one_line_and_the_relay_goes_on(
    infra: Infrastructure, database_url: str, unique: str
) -> None:
    """A person or type name with a line break reached a subject and ended the relay (found by
    the fuzz stage); the subject is now sent on one line."""
    await migrate(database_url, "mailer", [mail.MIGRATIONS])
    pool: AsyncConnectionPool[AsyncConnection[Any]] = schema_pool(database_url, "mailer")
    await pool.open()
    try:
        async with pool.connection() as conn:
            await mail.enqueue(conn, ORG, f"a-{unique}@example.test",
                               f"Review needed: Licence of Ann\r\nBcc: x@evil.test\x07 {unique}",
                               "body")  # fmt: skip
            await mail.enqueue(conn, ORG, f"b-{unique}@example.test", f"Plain {unique}", "body")
        relay = mail.MailRelay(pool, infra.smtp_host, infra.smtp_port)

        async def all_sent() -> bool:
            async with pool.connection() as conn:
                cursor = await conn.execute(
                    "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL"
                )
                return await cursor.fetchone() == (0,)

        async with running(relay):
            await eventually(all_sent)
        async with httpx.AsyncClient(base_url=infra.mail_api_url) as client:
            found = await client.get(
                "/api/v1/search", params={"query": f"subject:{unique}", "limit": 10}
            )
        subjects = sorted(m["Subject"] for m in found.json()["messages"])
        assert subjects == [
            f"Plain {unique}",
            f"Review needed: Licence of Ann Bcc: x@evil.test {unique}",
        ]
    finally:
        await pool.close()


async def test_a_digest_sent_again_after_a_crash_is_the_same_mail(
    infra: Infrastructure, database_url: str, unique: str
) -> None:
    """A digest's copy after a crash carries the same rows under the same Message-ID, even
    when its rows were queued at the same moment and more rows of the digest arrived since:
    those go in a digest of their own."""
    await migrate(database_url, "mailer", [mail.MIGRATIONS])
    pool: AsyncConnectionPool[AsyncConnection[Any]] = schema_pool(database_url, "mailer")
    await pool.open()
    address, key = f"digest-{unique}@example.test", f"import-{unique}"

    def rows(count: int) -> list[mail.Mail]:
        return [mail.Mail(ORG, address, f"Row {unique}", "Waiting.", digest_key=key)
                for _ in range(count)]  # fmt: skip

    try:
        async with pool.connection() as conn:
            await mail.enqueue_many(conn, rows(3))  # one statement: one deliver_after for all
        relay = mail.MailRelay(pool, infra.smtp_host, infra.smtp_port)
        assert await relay.send_due() == 3
        async with pool.connection() as conn:  # what a kill before the mark leaves, lapsed
            await conn.execute("UPDATE mail_outbox SET sent_at = NULL,"
                               " claimed_until = now() - interval '1 second'")  # fmt: skip
            await mail.enqueue_many(conn, rows(2))
        assert await relay.send_due() == 5
        async with httpx.AsyncClient(base_url=infra.mail_api_url) as client:
            found = await client.get("/api/v1/search", params={"query": f"to:{address}"})
        subjects: dict[str, list[str]] = {}
        for message in reversed(found.json()["messages"]):
            subjects.setdefault(message["MessageID"], []).append(message["Subject"])
        assert sorted(subjects.values()) == [
            ["2 credential(s) waiting for your review"],
            ["3 credential(s) waiting for your review"] * 2,
        ]
    finally:
        await pool.close()
