"""Example subscriber: read credflow credential events from Kafka and print them, typed.

    pip install ./contracts aiokafka
    python contracts/examples/consumer.py --bootstrap-servers 127.0.0.1:19092
        [--organisation ORG] [--group NAME] [--max-events N] [--idle-exit SECONDS]

It depends only on the contracts package and aiokafka. It commits offsets after printing, so a
restart with the same group continues where it stopped (at-least-once: use `ce_id` to drop a
redelivered event if your handler is not idempotent). Event types it does not know are skipped,
as the compatibility policy asks.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

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


def show(record: ConsumerRecord[bytes, bytes], organisation: str | None) -> bool:
    """Print the record's event; False when it is skipped."""
    try:
        envelope = Envelope.from_kafka(record.value, record.headers)
    except UnknownEventTypeError:
        return False  # a newer event type than this subscriber knows
    except EnvelopeError as exc:
        print(f"skipping malformed record at offset {record.offset}: {exc}")
        return False
    if organisation and str(envelope.tenant_id) != organisation:
        return False
    print(
        f"{envelope.time:%Y-%m-%d %H:%M:%S} {envelope.type} "
        f"org={envelope.tenant_id} credential={envelope.subject} {describe(envelope)}",
        flush=True,
    )
    return True


async def consume(args: argparse.Namespace) -> None:
    consumer = AIOKafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap_servers,
        group_id=args.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    shown = 0
    idle_since = time.monotonic()
    try:
        while not args.max_events or shown < args.max_events:
            batches = await consumer.getmany(timeout_ms=500)
            if not consumer.assignment():  # still joining the group: not idle yet
                idle_since = time.monotonic()
            if not batches and args.idle_exit:
                if time.monotonic() - idle_since >= args.idle_exit:
                    break
                continue
            idle_since = time.monotonic()
            done: dict[TopicPartition, int] = {}
            for partition, records in batches.items():
                for record in records:
                    if args.max_events and shown >= args.max_events:
                        break
                    shown += show(record, args.organisation)
                    done[partition] = record.offset + 1
            if done:  # after printing, and only what was printed or skipped
                await consumer.commit(done)
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Print credflow credential events.")
    parser.add_argument(
        "--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    parser.add_argument(
        "--topic",
        default=os.environ.get("CREDFLOW_TOPIC_PREFIX", "") + CREDENTIALS,
        help="default: credflow.credentials, after $CREDFLOW_TOPIC_PREFIX if set",
    )
    parser.add_argument("--group", default="credflow-example-consumer")
    parser.add_argument("--organisation", help="print only this organisation's events")
    parser.add_argument("--max-events", type=int, default=0, help="stop after N (0: never)")
    parser.add_argument(
        "--idle-exit", type=float, default=0, help="stop after N seconds without records"
    )
    asyncio.run(consume(parser.parse_args()))


if __name__ == "__main__":
    main()
