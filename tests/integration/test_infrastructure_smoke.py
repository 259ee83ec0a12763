"""Smoke tests against each real server: Kafka, PostgreSQL, MinIO and the SMTP sink."""

from __future__ import annotations

import asyncio
import io
from collections import defaultdict
from email.message import EmailMessage

import aiosmtplib
import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from minio import Minio

from tests.infrastructure import Infrastructure
from tests.integration.runtime_support import delete_topics_with_prefix

pytestmark = pytest.mark.integration


async def test_keyed_messages_come_back_in_order_per_key(
    infra: Infrastructure, unique: str
) -> None:
    topic = f"smoke.{unique}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()

    keys = [f"credential-{n}" for n in range(6)]
    sent = {key: [f"{key}:{seq}" for seq in range(40)] for key in keys}
    producer = AIOKafkaProducer(
        bootstrap_servers=infra.kafka_bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        # Interleave keys so ordering has to come from the partitioning, not from send order.
        for seq in range(40):
            for key in keys:
                await producer.send(topic, sent[key][seq].encode(), key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=infra.kafka_bootstrap_servers,
        group_id=f"smoke-{unique}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    received: dict[str, list[str]] = defaultdict(list)
    partitions_of: dict[str, set[int]] = defaultdict(set)
    try:
        async with asyncio.timeout(60):
            while sum(map(len, received.values())) < len(keys) * 40:
                batch = await consumer.getmany(timeout_ms=1000)
                for tp, records in batch.items():
                    for record in records:
                        assert record.key is not None
                        assert record.value is not None
                        received[record.key.decode()].append(record.value.decode())
                        partitions_of[record.key.decode()].add(tp.partition)
    finally:
        await consumer.stop()

    assert received == sent
    await delete_topics_with_prefix(infra.kafka_bootstrap_servers, topic)
    assert all(len(parts) == 1 for parts in partitions_of.values()), partitions_of
    assert len({next(iter(p)) for p in partitions_of.values()}) > 1, "keys should spread out"


async def test_postgres_round_trip(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await conn.execute("CREATE TABLE note (id int PRIMARY KEY, body text NOT NULL)")
        await conn.execute(
            "INSERT INTO note VALUES (%s, %s), (%s, %s)", (1, "first", 2, "second — ünïcode")
        )
        await conn.commit()
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute("SELECT id, body FROM note ORDER BY id")
        assert await cursor.fetchall() == [(1, "first"), (2, "second — ünïcode")]


def minio_client(infra: Infrastructure) -> Minio:
    endpoint = httpx.URL(infra.s3_endpoint_url)
    return Minio(
        f"{endpoint.host}:{endpoint.port}",
        access_key=infra.s3_access_key,
        secret_key=infra.s3_secret_key,
        secure=endpoint.scheme == "https",
    )


def test_object_put_get_and_presigned_get(infra: Infrastructure, unique: str) -> None:
    from datetime import timedelta

    client = minio_client(infra)
    assert client.bucket_exists(infra.s3_bucket), "the launcher creates the media bucket"
    key = f"smoke/{unique}/licence.pdf"
    body = b"%PDF-1.7\n" + bytes(range(256)) * 64
    client.put_object(
        infra.s3_bucket, key, io.BytesIO(body), len(body), content_type="application/pdf"
    )
    try:
        response = client.get_object(infra.s3_bucket, key)
        try:
            assert response.read() == body
        finally:
            response.close()
            response.release_conn()

        url = client.presigned_get_object(infra.s3_bucket, key, expires=timedelta(seconds=60))
        fetched = httpx.get(url)
        assert fetched.status_code == 200
        assert fetched.content == body
        assert fetched.headers["content-type"] == "application/pdf"
        tampered = httpx.get(url.replace("licence.pdf", "other.pdf"))
        assert tampered.status_code == 403
    finally:
        client.remove_object(infra.s3_bucket, key)


async def test_mail_sent_over_smtp_is_received(infra: Infrastructure, unique: str) -> None:
    message = EmailMessage()
    message["From"] = "credflow@example.test"
    message["To"] = f"worker-{unique}@example.test"
    message["Subject"] = f"Your licence expires soon ({unique})"
    message.set_content("Your driver's licence expires in 30 days.")
    await aiosmtplib.send(message, hostname=infra.smtp_host, port=infra.smtp_port)

    async with httpx.AsyncClient(base_url=infra.mail_api_url) as mail:
        listing = (await mail.get("/api/v1/search", params={"query": f"subject:{unique}"})).json()
        ours = listing["messages"]
        assert len(ours) == 1
        assert ours[0]["To"][0]["Address"] == f"worker-{unique}@example.test"
        detail = (await mail.get(f"/api/v1/message/{ours[0]['ID']}")).json()
        assert "expires in 30 days" in detail["Text"]
