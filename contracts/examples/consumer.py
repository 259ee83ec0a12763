"""Example subscriber: read credflow credential events from Kafka and print them, typed.

    pip install ./contracts aiokafka
    python contracts/examples/consumer.py --bootstrap-servers 127.0.0.1:19092

It depends only on the contracts package and aiokafka. It commits offsets after printing, so a
restart continues where it stopped (at-least-once: use `ce_id` to drop a redelivered event if
your handler is not idempotent). Event types it does not know are skipped, as the compatibility
policy asks.
"""

from __future__ import annotations

import argparse
import asyncio

from aiokafka import AIOKafkaConsumer

from credflow_contracts.catalogue import UnknownEventTypeError
from credflow_contracts.envelope import Envelope, EnvelopeError
from credflow_contracts.events.credentials import (
    CredentialExpired,
    CredentialRejected,
    CredentialSubmitted,
    CredentialValidated,
)
from credflow_contracts.topics import CREDENTIALS


def describe(envelope: Envelope) -> str:
    event = envelope.event
    match event:
        case CredentialSubmitted():
            expiry = event.expires_on.isoformat() if event.expires_on else "never"
            return f"submitted: holder {event.holder_id}, expires {expiry}"
        case CredentialValidated():
            return f"validated by {event.validated_by}"
        case CredentialRejected():
            return f"rejected by {event.rejected_by}: {event.comment}"
        case CredentialExpired():
            return f"expired on {event.expires_on}"
        case _:
            return type(event).__name__


async def consume(args: argparse.Namespace) -> None:
    consumer = AIOKafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap_servers,
        group_id=args.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen = 0
    try:
        async for record in consumer:
            try:
                envelope = Envelope.from_kafka(record.value, record.headers)
            except UnknownEventTypeError:
                continue  # a newer event type than this subscriber knows
            except EnvelopeError as exc:
                print(f"skipping malformed record at offset {record.offset}: {exc}")
                continue
            print(
                f"{envelope.time:%Y-%m-%d %H:%M:%S} {envelope.type} "
                f"org={envelope.tenant_id} credential={envelope.subject} {describe(envelope)}",
                flush=True,
            )
            await consumer.commit()
            seen += 1
            if args.max_events and seen >= args.max_events:
                break
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Print credflow credential events.")
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:19092")
    parser.add_argument("--topic", default=CREDENTIALS)
    parser.add_argument("--group", default="credflow-example-consumer")
    parser.add_argument("--max-events", type=int, default=0, help="stop after N (0: never)")
    asyncio.run(consume(parser.parse_args()))


if __name__ == "__main__":
    main()
