"""Where the tests find Kafka, PostgreSQL, MinIO and the SMTP sink.

In this order:
1. the environment (`KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL`, `S3_ENDPOINT_URL`, ...), which
   `make test` sets after `make up`;
2. testcontainers, when a Docker engine answers;
3. the native launcher (`deploy/local/infra.py up`), which installs and starts the servers.
A test that cannot reach its infrastructure fails; it never skips.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import conninfo

from credflow_common.settings import InfraSettings

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Infrastructure:
    source: str  # "environment", "testcontainers" or "native"
    kafka_bootstrap_servers: str
    database_url: str
    s3_endpoint_url: str
    s3_access_key: str
    s3_secret_key: str
    s3_bucket: str
    smtp_host: str
    smtp_port: int
    mail_api_url: str

    def settings(self, database_url: str) -> InfraSettings:
        """Service settings for these servers, with a test's own database."""
        return InfraSettings(
            database_url=database_url,
            kafka_bootstrap_servers=self.kafka_bootstrap_servers,
            s3_endpoint_url=self.s3_endpoint_url,
            s3_access_key=self.s3_access_key,
            s3_secret_key=self.s3_secret_key,
            s3_bucket=self.s3_bucket,
            smtp_host=self.smtp_host,
            smtp_port=self.smtp_port,
        )


ENV_KEYS = ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "S3_ENDPOINT_URL", "SMTP_HOST")


def from_environment(source: str = "environment") -> Infrastructure:
    env = os.environ
    return Infrastructure(
        source=source,
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        database_url=env["DATABASE_URL"],
        s3_endpoint_url=env["S3_ENDPOINT_URL"],
        s3_access_key=env.get("S3_ACCESS_KEY", "credflow"),
        s3_secret_key=env.get("S3_SECRET_KEY", "credflow-secret"),
        s3_bucket=env.get("S3_BUCKET", "credflow-media"),
        smtp_host=env["SMTP_HOST"],
        smtp_port=int(env.get("SMTP_PORT", "25")),
        mail_api_url=env.get("MAIL_API_URL", f"http://{env['SMTP_HOST']}:8025"),
    )


def docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:  # no engine, no socket, no permission: all mean "no Docker here"
        return False


@contextlib.contextmanager
def testcontainers_stack() -> Iterator[Infrastructure]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import HttpWaitStrategy
    from testcontainers.kafka import KafkaContainer
    from testcontainers.minio import MinioContainer
    from testcontainers.postgres import PostgresContainer

    with (
        KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka,
        PostgresContainer("postgres:15", username="credflow", password="credflow",
                          dbname="credflow", driver=None) as postgres,
        MinioContainer("minio/minio:latest", access_key="credflow",
                       secret_key="credflow-secret") as minio,
        DockerContainer("axllent/mailpit:latest").with_exposed_ports(1025, 8025)
        .waiting_for(HttpWaitStrategy(8025, "/api/v1/messages")) as mailpit,
    ):  # fmt: skip
        minio.get_client().make_bucket("credflow-media")
        host = mailpit.get_container_host_ip()
        yield Infrastructure(
            source="testcontainers",
            kafka_bootstrap_servers=kafka.get_bootstrap_server(),
            database_url=postgres.get_connection_url(),
            s3_endpoint_url=f"http://{minio.get_container_host_ip()}:{minio.get_exposed_port(9000)}",
            s3_access_key="credflow",
            s3_secret_key="credflow-secret",
            s3_bucket="credflow-media",
            smtp_host=host,
            smtp_port=int(mailpit.get_exposed_port(1025)),
            mail_api_url=f"http://{host}:{mailpit.get_exposed_port(8025)}",
        )


def native_stack() -> Infrastructure:
    launcher = REPO / "deploy" / "local" / "infra.py"
    subprocess.run([sys.executable, str(launcher), "up"], check=True)
    exports = subprocess.run(
        [sys.executable, str(launcher), "env"], check=True, capture_output=True, text=True
    ).stdout
    for line in exports.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        os.environ.setdefault(key, value)
    return from_environment(source="native")


@contextlib.contextmanager
def infrastructure() -> Iterator[Infrastructure]:
    if all(key in os.environ for key in ENV_KEYS):
        yield from_environment()
    elif docker_engine_answers():
        with testcontainers_stack() as stack:
            yield stack
    else:
        yield native_stack()


@contextlib.asynccontextmanager
async def temporary_database(admin_url: str, name: str) -> AsyncIterator[str]:
    """A fresh, empty database called `name` on the server of `admin_url`; its URL, and the
    database dropped afterwards."""
    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as admin:
        await admin.execute(f'CREATE DATABASE "{name}"')
    params = conninfo.conninfo_to_dict(admin_url)
    params["dbname"] = name
    try:
        yield conninfo.make_conninfo(**params)  # type: ignore[arg-type]
    finally:
        async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as admin:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
