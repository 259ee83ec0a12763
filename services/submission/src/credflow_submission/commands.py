"""Commands from the importer on `credflow.submission.commands`.

Each SubmitCredential names the credential id the importer derived from (import, row), so a
command delivered twice finds its credential already recorded and does nothing: one command,
one credential. The credential's events, the consumer's position and inbox commit together.
"""

from __future__ import annotations

from collections.abc import Sequence

from credflow_common.consumer import ConsumerSpec, Delivery
from credflow_common.directory_replica import DirectoryReplica
from credflow_common.eventstore import EventStore, Metadata
from credflow_contracts.events.commands import SubmitCredential
from credflow_contracts.topics import SUBMISSION_COMMANDS
from credflow_submission.domain import HolderInfo, InvalidError, Submit, VersionDetails
from credflow_submission.service import Conn, execute, load, rules_for


def command_consumer(store: EventStore, topic_prefix: str = "") -> ConsumerSpec:
    replica = DirectoryReplica()

    async def apply(conn: Conn, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            command = delivery.envelope.event
            if not isinstance(command, SubmitCredential):
                continue
            delivery.bind_log_context()
            loaded = await load(store, conn, command.credential_id)
            if loaded.state is not None:
                continue  # this command was applied already
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
            await execute(
                store,
                conn,
                command.credential_id,
                submit,
                metadata,
                0,
                rules,
                HolderInfo(active=holder.status == "active"),
                loaded,
            )

    return ConsumerSpec(
        name="submission.commands", topics=[topic_prefix + SUBMISSION_COMMANDS], handler=apply
    )
