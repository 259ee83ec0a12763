"""Example subscriber with FastStream 0.7: credflow credential events, typed, printed.

    pip install './contracts[faststream]'
    python contracts/examples/faststream_consumer.py --bootstrap-servers 127.0.0.1:19092
        [--organisation ORG] [--group NAME] [--seconds N]
        [--directory-url URL]   # with $CREDFLOW_PERSONAL_DATA_TOKEN: open personal fields

With a token holding `platform:personal-data` (`pip install './contracts[faststream,
personal-data]'`), the personal fields (titles, numbers, notes, comments) are opened with keys
from the directory's data-key API; a field of an erased person is named in `envelope.erased`.
Without the permission the API refuses the keys and the handler fails.

The handler receives an `Envelope` whose `event` is the typed, current model (older versions
upcast); records of other organisations, of types not asked for, and of types this release of
the contracts does not know are skipped by their headers, their bodies never parsed
(`credflow_contracts.faststream_kit`).

FastStream 0.7's defaults to mind, and what this example sets instead:
- **Topics**: a subscriber creates a missing topic unless told not to. credflow's topics are
  provisioned by credflow (retention, partitions), so it subscribes with
  `Topic(name, declare=False)`.
- **Batches**: a batch subscriber's default decoding parses every record's JSON, and the
  typed decoder would parse it a second time; this example reads one record at a time (its
  decoder parses each body once).
- **Acknowledgement**: with Kafka, `AckPolicy.ACK` and `REJECT_ON_ERROR` commit the offset even
  when the handler raised (the record is skipped for good), while `NACK_ON_ERROR` seeks back and
  tries the record again. This example uses `NACK_ON_ERROR`, so a failed print is retried, not
  lost; a malformed record (`MalformedRecordError`) is retried too and holds its partition up:
  choose `REJECT_ON_ERROR` if you would rather log and skip it. Commits are at least once:
  drop a repeat by its `ce_id` (or by `ce_streamid` and `ce_streamversion`) if your handler is
  not idempotent.
- **Offsets**: a new group starts at the end of the log (`auto_offset_reset="latest"`); this
  example reads from the beginning.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable
from uuid import UUID

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, Topic

from credflow_contracts.envelope import Envelope
from credflow_contracts.faststream_kit import (
    EventFilter,
    PersonalData,
    decode_envelope,
    ignore_body,
)
from credflow_contracts.topics import CREDENTIALS

WANTED = {
    "credflow.credential.submitted",
    "credflow.credential.validated",
    "credflow.credential.rejected",
    "credflow.credential.expired",
}


def describe(envelope: Envelope) -> str:
    title = getattr(envelope.event, "title", None)
    erased = f" erased={sorted(envelope.erased)}" if envelope.erased else ""
    return (
        f"{envelope.time:%Y-%m-%d %H:%M:%S} {envelope.type} org={envelope.tenant_id} "
        f"credential={envelope.subject} {type(envelope.event).__name__}"
        + (f" title={title!r}" if title else "")
        + erased
    )


def build(
    bootstrap_servers: str,
    topic: str,
    group: str,
    handle: Callable[[Envelope], None],
    organisation: UUID | None = None,
    event_types: set[str] | None = None,
    personal_data: PersonalData | None = None,
) -> KafkaBroker:
    """A broker whose subscriber hands each wanted event to `handle`, typed (with
    `personal_data`, its personal fields opened)."""
    broker = KafkaBroker(bootstrap_servers)
    subscriber = broker.subscriber(
        Topic(topic, declare=False),
        group_id=group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    wanted = EventFilter(event_types, None if organisation is None else [organisation])

    decoder = personal_data.decoder if personal_data is not None else decode_envelope

    @subscriber(decoder=decoder, filter=wanted)
    async def on_event(envelope: Envelope) -> None:
        handle(envelope)

    @subscriber(decoder=ignore_body)
    async def skip() -> None:
        """Another organisation's record, a type not asked for or not known yet."""

    return broker


async def run(args: argparse.Namespace) -> None:
    organisation = UUID(args.organisation) if args.organisation else None
    token = os.environ.get("CREDFLOW_PERSONAL_DATA_TOKEN")
    personal = PersonalData(args.directory_url, token) if args.directory_url and token else None
    broker = build(args.bootstrap_servers, args.topic, args.group,
                   lambda envelope: print(describe(envelope), flush=True),
                   organisation, WANTED, personal)  # fmt: skip
    async with broker:
        await broker.start()
        await asyncio.sleep(args.seconds) if args.seconds else await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Print credflow credential events (FastStream).")
    parser.add_argument(
        "--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    parser.add_argument(
        "--topic", default=os.environ.get("CREDFLOW_TOPIC_PREFIX", "") + CREDENTIALS,
        help="default: credflow.credentials, after $CREDFLOW_TOPIC_PREFIX if set",
    )  # fmt: skip
    parser.add_argument("--group", default="credflow-faststream-example")
    parser.add_argument("--organisation", help="print only this organisation's events")
    parser.add_argument("--seconds", type=float, default=0, help="stop after N (0: never)")
    parser.add_argument("--directory-url", help="open personal fields with keys from here")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
