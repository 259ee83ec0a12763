"""Commands from the importer on `credflow.submission.commands`.

Each SubmitCredential names the credential id the importer derived from (import, row), so a
command delivered twice finds its credential already recorded and does nothing: one command,
one credential. The credential's events, the consumer's position and inbox commit together.

A row that was valid when the import was checked may no longer be when its command arrives
(its holder deactivated, its type archived in between). Such a command is refused, not
retried: an ImportRowRefused goes to `credflow.imports` (from a stream of its own, so a
redelivered command finds it there and refuses nothing twice), and the importer counts the row
as done.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from credflow_common.consumer import ConsumerSpec, Delivery
from credflow_common.directory_replica import BatchReplica
from credflow_common.eventstore import Append, EventStore, Metadata
from credflow_contracts.events.base import Event
from credflow_contracts.events.commands import SubmitCredential
from credflow_contracts.events.imports import ImportRowRefused
from credflow_contracts.topics import SUBMISSION_COMMANDS
from credflow_submission import domain
from credflow_submission.access import rules_for
from credflow_submission.domain import (
    DomainError,
    HolderInfo,
    InvalidError,
    Submit,
    VersionDetails,
)
from credflow_submission.store import Conn, stream_id


def refusal_stream_id(credential_id: UUID) -> str:
    return f"refused-{credential_id}"


def command_consumer(store: EventStore, topic_prefix: str = "") -> ConsumerSpec:
    async def apply(conn: Conn, deliveries: Sequence[Delivery]) -> None:
        commands = [
            (delivery, command)
            for delivery in deliveries
            if isinstance(command := delivery.envelope.event, SubmitCredential)
        ]
        if not commands:
            return
        # A batch is typically a chunk of one import: which credentials exist already, and the
        # directory facts of its holders and types, are read once for all of it.
        cursor = await conn.execute(
            "SELECT DISTINCT stream_id FROM events WHERE stream_id = ANY(%s)",
            ([
                stream
                for _, command in commands
                for stream in (
                    stream_id(command.credential_id), refusal_stream_id(command.credential_id)
                )
            ],),
        )  # fmt: skip
        recorded = {row[0] for row in await cursor.fetchall()}
        replica = BatchReplica()
        wanted: dict[UUID, tuple[set[UUID], set[UUID]]] = {}
        for _, command in commands:
            users, types = wanted.setdefault(command.organisation_id, (set(), set()))
            users.add(command.holder_id)
            types.add(command.credential_type_id)
        for org, (users, types) in wanted.items():
            await replica.preload(conn, org, users, types, with_admins=False)
        appends = []
        for delivery, command in commands:
            streams = (stream_id(command.credential_id), refusal_stream_id(command.credential_id))
            if recorded.intersection(streams):
                continue  # this command was applied (or refused) already
            recorded.update(streams)
            org = command.organisation_id
            holder = await replica.user(conn, org, command.holder_id)
            if holder is None:
                raise InvalidError(f"no such user {command.holder_id} (yet) in the replica")
            rules = await rules_for(replica, conn, org, command.credential_type_id)
            details = VersionDetails(
                issued_on=command.issued_on,
                expires_on=command.expires_on,
                certification=command.certification,
                issuer=command.issuer,
                notes=command.notes,
                media=tuple(command.media),
            )
            submit = Submit(
                command.credential_id,
                org,
                command.holder_id,
                command.credential_type_id,
                command.command_id,
                details,
                command.requested_by,
                command.import_id,
            )
            metadata = Metadata(
                org, delivery.envelope.correlation_id, delivery.envelope.id, command.requested_by
            )
            target = stream_id(command.credential_id)
            events: list[Event]
            try:
                events = domain.decide(
                    submit, None, rules, HolderInfo(active=holder.status == "active")
                )
            except DomainError as refusal:
                target, events = (
                    refusal_stream_id(command.credential_id),
                    [refused(command, refusal)],
                )
            appends.append(Append(target, 0, events, metadata))
        await store.append_many(conn, appends)  # the batch's credentials in one statement

    return ConsumerSpec(
        name="submission.commands", topics=[topic_prefix + SUBMISSION_COMMANDS], handler=apply
    )


def refused(command: SubmitCredential, refusal: DomainError) -> ImportRowRefused:
    return ImportRowRefused(
        import_id=command.import_id,
        organisation_id=command.organisation_id,
        row_number=command.row_number,
        credential_id=command.credential_id,
        reason=refusal.message,
        field=refusal.field,
    )
