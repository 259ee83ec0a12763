"""Reminders and expiry on real PostgreSQL, Kafka and the SMTP sink, the clock moved by the
test: reminders on the right days with the manager copied, renewal cancels the old version's
reminders, two scheduler instances and three mail relays never double-send, CredentialExpired
once and `expired` in the worker view, and the notification settings API."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from credflow_common.mail import MailRelay
from credflow_contracts.events.credentials import CredentialExpired
from credflow_contracts.events.reminders import ReminderSent
from credflow_contracts.topics import CREDENTIALS, REMINDERS
from tests.infrastructure import Infrastructure
from tests.integration.directory.conftest import Org
from tests.integration.kafka_support import read_topic
from tests.integration.reminder.conftest import ReminderStack
from tests.polling import eventually

EXPIRES = date(2026, 7, 1)


async def world(stack: ReminderStack, name: str) -> tuple[Org, dict[str, Any], dict[str, Any], str]:
    services = stack.services
    org = await services.org(name)
    manager = await stack.person(org, "max", roles=["worker", "manager"])
    worker = await stack.person(org, "wendy", roles=["worker"], manager_id=manager["user_id"])
    kind = await services.post(
        org, "/credential-types", name="First aid", validation_required=False
    )
    await stack.replicated(kind)
    return org, manager, worker, str(kind["credential_type_id"])


async def test_reminders_fall_due_as_the_clock_moves_and_the_manager_is_copied(
    stack: ReminderStack, infra: Infrastructure
) -> None:
    org, manager, worker, type_id = await world(stack, "Remind")
    response = await stack.reminder.put(
        f"/organisations/{org.id}/users/me/notification-settings",
        json={"enabled": True, "lead_days": [30, 7, 1], "copy_manager": True},
        headers=stack.as_(org, worker),
    )
    assert response.status_code == 200, response.text
    credential = await stack.submit(org, worker, type_id, EXPIRES)

    await stack.tick(EXPIRES - timedelta(days=31))
    assert await stack.subjects_to(worker["email"]) == []
    await stack.tick(EXPIRES - timedelta(days=30))
    await stack.tick(EXPIRES - timedelta(days=30))  # the same day again: nothing twice
    assert await stack.subjects_to(worker["email"]) == [
        "Your First aid expires in 30 days (01/07/2026)"
    ]
    assert await stack.subjects_to(manager["email"]) == [
        "Wendy's First aid expires in 30 days (01/07/2026)"
    ]
    for day in range(29, -3, -1):  # every day up to two days after expiry
        await stack.tick(EXPIRES - timedelta(days=day))
    assert await stack.subjects_to(worker["email"]) == [
        "Your First aid expired on 01/07/2026",
        "Your First aid expires in 1 day (01/07/2026)",
        "Your First aid expires in 30 days (01/07/2026)",
        "Your First aid expires in 7 days (01/07/2026)",
    ]
    assert len(await stack.subjects_to(manager["email"])) == 4  # copies, then the escalation

    events = await read_topic(
        infra.kafka_bootstrap_servers, stack.services.topic_prefix + REMINDERS, 8
    )
    sent = [r.envelope.event for r in events if isinstance(r.envelope.event, ReminderSent)]
    assert sorted((s.recipient_role, s.kind, s.days_before_expiry) for s in sent) == sorted(
        [(role, "before_expiry", days) for role in ("holder", "manager") for days in (30, 7, 1)]
        + [("holder", "after_expiry", None), ("manager", "after_expiry", None)]
    )
    landed = await read_topic(
        infra.kafka_bootstrap_servers, stack.services.topic_prefix + CREDENTIALS, 3
    )
    expired = [r.envelope.event for r in landed if isinstance(r.envelope.event, CredentialExpired)]
    assert [(str(e.credential_id), e.expires_on) for e in expired] == [
        (credential["credential_id"], EXPIRES)
    ]

    async def shown_expired() -> bool:
        response = await stack.views.get(
            f"/organisations/{org.id}/credentials/{credential['credential_id']}",
            headers=org.admin,
        )
        return response.status_code == 200 and response.json()["status"] == "expired"

    await eventually(shown_expired, timeout_s=30)


async def test_a_reminder_waits_for_directory_data_its_replica_has_not_received(
    stack: ReminderStack,
) -> None:
    """The credential's events can overtake the directory's in this service: the reminder is
    held until the replica knows everyone it names, never skipped or sent without the copy."""
    org, manager, worker, type_id = await world(stack, "Lagging")
    response = await stack.reminder.put(
        f"/organisations/{org.id}/users/me/notification-settings",
        json={"enabled": True, "lead_days": [30], "copy_manager": True},
        headers=stack.as_(org, worker),
    )
    assert response.status_code == 200, response.text
    await stack.submit(org, worker, type_id, EXPIRES)
    async with stack.reminder_context.pool.connection() as conn:
        # As if the manager's UserCreated had not reached this service yet.
        await conn.execute("DELETE FROM replica_users WHERE user_id = %s", (manager["user_id"],))
    due = EXPIRES - timedelta(days=30)
    await stack.tick(due)
    await stack.tick(due)
    assert await stack.subjects_to(worker["email"]) == []

    renamed = await stack.services.directory.client.patch(
        org.url(f"/users/{manager['user_id']}"), json={"name": "Max Manager"}, headers=org.admin
    )
    assert renamed.status_code == 200, renamed.text
    await stack.replicated(renamed.json())
    await stack.tick(due)
    assert await stack.subjects_to(worker["email"]) == [
        "Your First aid expires in 30 days (01/07/2026)"
    ]
    assert await stack.subjects_to(manager["email"]) == [
        "Wendy's First aid expires in 30 days (01/07/2026)"
    ]


async def test_an_expiry_published_already_does_not_block_the_other_reminders(
    stack: ReminderStack,
) -> None:
    """A row written back stale (its CredentialExpired published, the record of it lost) is
    put right at the next tick: no second CredentialExpired, and the rest of the chunk goes
    out (it used to fail the whole tick, again and again)."""
    org, _, worker, type_id = await world(stack, "Stale")
    lapsed = await stack.submit(org, worker, type_id, EXPIRES)
    await stack.tick(EXPIRES + timedelta(days=2))
    async with stack.reminder_context.pool.connection() as conn:
        await conn.execute(
            "UPDATE schedule SET expired_version_id = NULL, next_due_on = %s"
            " WHERE credential_id = %s",
            (EXPIRES, lapsed["credential_id"]),
        )
    await stack.submit(org, worker, type_id, EXPIRES + timedelta(days=32))
    await stack.tick(EXPIRES + timedelta(days=2))
    assert "Your First aid expires in 30 days (02/08/2026)" in await stack.subjects_to(
        worker["email"]
    )
    async with stack.reminder_context.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM events WHERE tenant_id = %s AND stream_id LIKE 'expiry-%%'",
            (org.id,),
        )
        assert await cursor.fetchone() == (1,)
        cursor = await conn.execute(
            "SELECT expired_version_id IS NOT NULL FROM schedule WHERE credential_id = %s",
            (lapsed["credential_id"],),
        )
        assert await cursor.fetchone() == (True,)


async def test_a_renewed_credential_gets_no_more_reminders_for_the_old_version(
    stack: ReminderStack,
) -> None:
    org, _, worker, type_id = await world(stack, "Renew")
    credential = await stack.submit(org, worker, type_id, EXPIRES)
    await stack.tick(EXPIRES - timedelta(days=30))
    assert len(await stack.subjects_to(worker["email"])) == 1
    renewed_until = EXPIRES + timedelta(days=365)
    response = await stack.services.submission.post(
        f"/organisations/{org.id}/credentials/{credential['credential_id']}/versions",
        json={"issued_on": str(EXPIRES - timedelta(days=20)), "expires_on": str(renewed_until)},
        headers={**org.admin, "If-Match": str(credential["version"])},
    )
    assert response.status_code in (200, 201), response.text
    await stack.scheduled(credential["credential_id"], renewed_until)
    for day in (7, 1, -1, -5):
        await stack.tick(EXPIRES - timedelta(days=day))
    assert await stack.subjects_to(worker["email"]) == [
        "Your First aid expires in 30 days (01/07/2026)"
    ]
    await stack.tick(renewed_until - timedelta(days=30))  # the new version's own reminders
    assert len(await stack.subjects_to(worker["email"])) == 2


async def test_two_scheduler_instances_at_once_send_each_reminder_once(
    stack: ReminderStack,
) -> None:
    org, _, worker, type_id = await world(stack, "Twice")
    for _ in range(40):
        await stack.submit(org, worker, type_id, EXPIRES)
    stack.clock.set_day(EXPIRES - timedelta(days=7))
    first, second = stack.scheduler(), stack.scheduler()
    first.chunk_size = second.chunk_size = 7
    await asyncio.gather(first.tick(), second.tick(), first.tick())
    context = stack.reminder_context
    relays = [
        MailRelay(context.pool, context.infra.smtp_host, context.infra.smtp_port, batch_size=5)
        for _ in range(2)
    ]  # two more beside the service's own
    await asyncio.gather(*(relay.send_due() for relay in relays for _ in range(4)))
    await stack.mails_sent()
    subjects = await stack.subjects_to(worker["email"])
    assert subjects == ["Your First aid expires in 7 days (01/07/2026)"] * 40
    async with stack.reminder_context.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT outcome, count(*) FROM sent_ledger GROUP BY outcome ORDER BY outcome"
        )
        assert await cursor.fetchall() == [("sent", 40), ("skipped", 40)]  # 30 days: skipped


async def test_notification_settings_are_your_own_unless_you_are_an_admin(
    stack: ReminderStack,
) -> None:
    org, manager, worker, _ = await world(stack, "Settings")
    path = f"/organisations/{org.id}/users/{worker['user_id']}/notification-settings"
    defaults = await stack.reminder.get(path, headers=stack.as_(org, worker))
    assert defaults.json() == {
        "user_id": worker["user_id"], "enabled": True, "lead_days": [30, 7, 1],
        "copy_manager": False,
    }  # fmt: skip
    other = await stack.reminder.put(path, json={"enabled": False}, headers=stack.as_(org, manager))
    assert other.status_code == 403
    bad = await stack.reminder.put(
        path, json={"lead_days": [30, 400]}, headers=stack.as_(org, worker)
    )
    assert bad.status_code == 422
    assert "lead_days" in bad.text
    by_admin = await stack.reminder.put(
        path, json={"lead_days": [14, 60], "copy_manager": True}, headers=org.admin
    )
    assert by_admin.json()["lead_days"] == [60, 14]
    elsewhere = await stack.services.org("Elsewhere")
    assert (await stack.reminder.get(path, headers=elsewhere.admin)).status_code == 404
