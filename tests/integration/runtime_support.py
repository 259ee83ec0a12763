"""A small read model and a worker process for the event-runtime tests.

The model counts credentials per holder with a non-idempotent increment, so an event applied
twice shows up as a wrong count; a CredentialSubmitted whose notes say "poison" fails until a
row in `fixes` says it was fixed.

Run as a process (the crash tests kill it):
    python -m tests.integration.runtime_support relay --schema S
    python -m tests.integration.runtime_support consume --schema S --consumer NAME --topic T
Endpoints come from DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from psycopg import AsyncConnection

from credflow_common.consumer import ConsumerRunner, ConsumerSettings, ConsumerSpec, Delivery
from credflow_common.db import schema_pool
from credflow_common.relay import OutboxRelay
from credflow_contracts.events.credentials import CredentialSubmitted
from credflow_contracts.topics import dlq_topic

MODEL_DDL = """
CREATE TABLE IF NOT EXISTS holder_totals (
    holder_id uuid PRIMARY KEY,
    credentials integer NOT NULL
);
CREATE TABLE IF NOT EXISTS credential_rows (
    version_id uuid PRIMARY KEY,
    credential_id uuid NOT NULL,
    holder_id uuid NOT NULL,
    issued_on date NOT NULL,
    number text
);
CREATE TABLE IF NOT EXISTS fixes (name text PRIMARY KEY);
"""


async def create_model(conn: AsyncConnection[Any]) -> None:
    await conn.execute(MODEL_DDL)


async def apply_batch(conn: AsyncConnection[Any], deliveries: Sequence[Delivery]) -> None:
    for delivery in deliveries:
        event = delivery.envelope.event
        if not isinstance(event, CredentialSubmitted):
            continue
        if event.notes == "poison":
            cursor = await conn.execute("SELECT 1 FROM fixes WHERE name = 'poison'")
            if await cursor.fetchone() is None:
                raise ValueError(f"cannot apply poison credential {event.credential_id}")
        await conn.execute(
            "INSERT INTO holder_totals (holder_id, credentials) VALUES (%s, 1)"
            " ON CONFLICT (holder_id) DO UPDATE SET credentials = holder_totals.credentials + 1",
            (event.holder_id,),
        )
        await conn.execute(
            "INSERT INTO credential_rows VALUES (%s, %s, %s, %s, %s)",
            (
                event.version_id,
                event.credential_id,
                event.holder_id,
                event.issued_on,
                event.certification.number if event.certification else None,
            ),
        )


def spec(name: str, topics: Sequence[str]) -> ConsumerSpec:
    return ConsumerSpec(name=name, topics=list(topics), handler=apply_batch)


async def create_topics(bootstrap: str, topics: Sequence[str], partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(name, num_partitions=partitions, replication_factor=1)
                for topic in topics
                for name in (topic, dlq_topic(topic))
            ]
        )
    finally:
        await admin.close()


async def delete_topics_with_prefix(bootstrap: str, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


async def run_relay(schema: str) -> None:
    relay = OutboxRelay(
        os.environ["DATABASE_URL"], schema, os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        batch_size=int(os.environ.get("RELAY_BATCH_SIZE", "1000")),
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, relay.stop)
    await relay.run()


async def run_consumer(schema: str, consumer: str, topic: str, max_batch: int) -> None:
    pool = schema_pool(os.environ["DATABASE_URL"], schema)
    await pool.open()
    runner = ConsumerRunner(
        spec(consumer, [topic]), pool, os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        settings=ConsumerSettings(max_batch=max_batch, retry_backoff_s=0.05),
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, runner.stop)
    try:
        await runner.run()
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    relay = sub.add_parser("relay")
    relay.add_argument("--schema", required=True)
    consume = sub.add_parser("consume")
    consume.add_argument("--schema", required=True)
    consume.add_argument("--consumer", required=True)
    consume.add_argument("--topic", required=True)
    consume.add_argument("--max-batch", type=int, default=500)
    args = parser.parse_args()
    if args.command == "relay":
        asyncio.run(run_relay(args.schema))
    else:
        asyncio.run(run_consumer(args.schema, args.consumer, args.topic, args.max_batch))


if __name__ == "__main__":
    main()
