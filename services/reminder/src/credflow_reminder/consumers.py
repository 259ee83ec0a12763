"""The reminder service's consumers: the schedule kept from `credflow.credentials`, each batch
folded per credential in memory and written back with one statement; and the directory
replica, with the service's part of an erasure (`erase`)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from credflow_common import directory_replica, mail
from credflow_common.consumer import ConsumerSpec, Delivery, types_of
from credflow_common.erasure import reporting_eraser, row_count
from credflow_common.eventstore import EventStore
from credflow_contracts.events.credentials import CredentialEvent
from credflow_contracts.events.directory import PersonErased
from credflow_contracts.topics import CREDENTIALS
from credflow_reminder import domain
from credflow_reminder.domain import Tracked
from credflow_reminder.store import Conn, load, save

TRACKED_EVENTS = types_of(*domain.TRACKED_EVENTS)


def credentials_consumer(topic_prefix: str = "") -> ConsumerSpec:
    async def apply(conn: Conn, deliveries: Sequence[Delivery]) -> None:
        events = [
            event
            for delivery in deliveries
            if isinstance(event := delivery.envelope.event, CredentialEvent)
        ]
        known = await load(conn, list(dict.fromkeys(event.credential_id for event in events)))
        changed: dict[UUID, Tracked] = {}
        for event in events:
            before = changed.get(event.credential_id) or known.get(event.credential_id)
            after = domain.evolve(before, event)
            if after is not None and after != before:
                changed[event.credential_id] = after
        await save(conn, list(changed.values()))

    return ConsumerSpec(
        name="reminder.credentials",
        topics=[topic_prefix + CREDENTIALS],
        handler=apply,
        event_types=TRACKED_EVENTS,
    )


async def erase(conn: Conn, erased: PersonErased) -> dict[str, int]:
    """The reminder service's part of an erasure: the person's pending reminders (their
    credentials leave the schedule), the record of reminders sent to or about them, their
    notification settings, and every mail to or about them, sent or not."""
    org, person = erased.organisation_id, erased.user_id
    ledger = await row_count(
        conn,
        "DELETE FROM sent_ledger WHERE organisation_id = %(org)s AND (recipient_id = %(person)s"
        " OR credential_id IN (SELECT credential_id FROM schedule"
        " WHERE organisation_id = %(org)s AND holder_id = %(person)s))",
        {"org": org, "person": person},
    )
    reminders = await row_count(
        conn, "DELETE FROM schedule WHERE organisation_id = %s AND holder_id = %s", (org, person)
    )
    settings = await row_count(
        conn,
        "DELETE FROM notification_settings WHERE organisation_id = %s AND user_id = %s",
        (org, person),
    )
    return {
        "reminders": reminders,
        "reminders_sent": ledger,
        "notification_settings": settings,
        "mails": await mail.forget(conn, org, person),
    }


def directory_consumer(store: EventStore, topic_prefix: str = "") -> ConsumerSpec:
    """The directory replica, with the service's part of an erasure."""
    eraser = reporting_eraser(store, "reminder", erase)
    return directory_replica.replica_consumer("reminder", topic_prefix, eraser)
