"""The reminder service's consumer: the schedule kept from `credflow.credentials`, each batch
folded per credential in memory and written back with one statement."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from credflow_common.consumer import ConsumerSpec, Delivery, types_of
from credflow_contracts.events.credentials import CredentialEvent
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
