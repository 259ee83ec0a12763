"""Native launcher: Kafka, PostgreSQL, MinIO and an SMTP sink as plain processes on 127.0.0.1.

For machines without a Docker engine (ours and CI's). Downloads and builds are cached under
`$CREDFLOW_CACHE` (default `~/.cache/credflow`); each server has its own pid file and log under
`<cache>/state`. Every start is idempotent: a server already running and healthy is reused.
`down` stops exactly the processes whose pid files we wrote, never anything found by name.

    python deploy/local/infra.py up        # install what is missing, start, health-check
    python deploy/local/infra.py down      # stop what we started
    python deploy/local/infra.py status    # what runs, where
    python deploy/local/infra.py env       # shell exports for the endpoints
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import typer

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("CREDFLOW_CACHE", Path.home() / ".cache" / "credflow"))
STATE = CACHE / "state"
RUN = STATE / "run"
LOGS = STATE / "logs"

HOST = "127.0.0.1"
KAFKA_VERSION = "4.1.1"
KAFKA_PORT = 19092
KAFKA_CONTROLLER_PORT = 19093
POSTGRES_PORT = 15432
POSTGRES_USER = "credflow"
POSTGRES_DB = "credflow"
MINIO_MODULE = "github.com/minio/minio"
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"
MINIO_PORT = 19000
MINIO_CONSOLE_PORT = 19001
MINIO_USER = "credflow"
MINIO_PASSWORD = "credflow-secret"  # noqa: S105 - local development credential
MINIO_BUCKET = "credflow-media"
SMTP_PORT = 11025
MAIL_HTTP_PORT = 18025

app = typer.Typer(
    help=__doc__, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
)


def say(message: str) -> None:
    typer.echo(f"[infra] {message}", err=True)


# ---------------------------------------------------------------------------------------------
# processes and pid files


def pid_file(name: str) -> Path:
    return RUN / f"{name}.pid"


def read_pid(name: str) -> int | None:
    try:
        return int(pid_file(name).read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def process_matches(pid: int, marker: str) -> bool:
    """True when `pid` is alive and its command line contains `marker` (guards pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return marker in cmdline


def port_open(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_until(what: str, probe: Callable[[], bool], timeout_s: float, log: Path | None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if probe():
                return
        time.sleep(0.25)
    tail = ""
    if log is not None and log.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
    raise RuntimeError(f"{what} did not become healthy within {timeout_s:.0f}s\n{tail}")


def spawn(name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
    """Start a detached process with its own log and pid file."""
    RUN.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    log = (LOGS / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        cwd=STATE,
    )
    pid_file(name).write_text(f"{proc.pid}\n")
    return proc.pid


def stop_pid(name: str, marker: str, timeout_s: float = 20.0) -> None:
    pid = read_pid(name)
    if pid is None:
        return
    if process_matches(pid, marker):
        say(f"stopping {name} (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and process_matches(pid, marker):
            time.sleep(0.2)
        if process_matches(pid, marker):
            say(f"{name} ignored SIGTERM; sending SIGKILL")
            os.kill(pid, signal.SIGKILL)
    pid_file(name).unlink(missing_ok=True)


def run(argv: list[str], **kwargs: object) -> None:
    subprocess.run(argv, check=True, **kwargs)  # type: ignore[call-overload]


def apt_install(*packages: str) -> None:
    if os.geteuid() != 0:
        raise RuntimeError(f"missing {' '.join(packages)}: install them with apt-get (needs root)")
    say(f"apt-get install {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env)


# ---------------------------------------------------------------------------------------------
# Kafka (KRaft, combined broker + controller)


@dataclass(frozen=True)
class Kafka:
    name: str = "kafka"
    marker: str = "kafka.Kafka"

    @property
    def home(self) -> Path:
        return CACHE / f"kafka-{KAFKA_VERSION}"

    @property
    def data(self) -> Path:
        return STATE / "kafka"

    def install(self) -> None:
        if (self.home / ".complete").exists():
            return
        if shutil.which("java") is None:
            apt_install("openjdk-17-jre-headless")
        if shutil.which("mvn") is None:
            apt_install("maven")
        say(f"fetching Apache Kafka {KAFKA_VERSION} jars from Maven Central")
        libs = self.home / "libs"
        shutil.rmtree(self.home, ignore_errors=True)
        run(
            [
                "mvn", "-q", "-B", "-f", str(HERE / "kafka" / "pom.xml"),
                "dependency:copy-dependencies",
                f"-Dkafka.version={KAFKA_VERSION}",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={libs}",
            ]
        )  # fmt: skip
        (self.home / ".complete").write_text(KAFKA_VERSION)

    def properties(self) -> Path:
        path = self.data / "server.properties"
        self.data.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers={HOST}:{KAFKA_CONTROLLER_PORT}",
                    f"listeners=PLAINTEXT://{HOST}:{KAFKA_PORT},"
                    f"CONTROLLER://{HOST}:{KAFKA_CONTROLLER_PORT}",
                    f"advertised.listeners=PLAINTEXT://{HOST}:{KAFKA_PORT},"
                    f"CONTROLLER://{HOST}:{KAFKA_CONTROLLER_PORT}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self.data / 'logs'}",
                    "num.partitions=6",
                    "auto.create.topics.enable=false",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=10",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "transaction.state.log.num.partitions=10",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "log.flush.interval.messages=9223372036854775807",
                    "",
                ]
            )
        )
        return path

    def java(self, main: str, *args: str) -> list[str]:
        return [
            "java",
            "-Xms256m",
            "-Xmx768m",
            "-XX:+UseG1GC",
            "-XX:TieredStopAtLevel=1" if main != "kafka.Kafka" else "-XX:+TieredCompilation",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={HERE / 'kafka' / 'log4j2.properties'}",
            "-cp",
            str(self.home / "libs" / "*"),
            main,
            *args,
        ]

    def healthy(self) -> bool:
        return port_open(KAFKA_PORT) and broker_answers()

    def start(self) -> None:
        pid = read_pid(self.name)
        if pid is not None and process_matches(pid, self.marker):
            wait_until("kafka", self.healthy, 90, LOGS / "kafka.log")
            say(f"kafka already running (pid {pid}) on {HOST}:{KAFKA_PORT}")
            return
        if port_open(KAFKA_PORT):
            raise RuntimeError(f"port {KAFKA_PORT} is taken by a process we did not start")
        self.install()
        props = self.properties()
        if not (self.data / "logs" / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            say("formatting Kafka storage (KRaft, standalone controller)")
            run(
                self.java(
                    "kafka.tools.StorageTool",
                    "format", "--standalone", "-t", cluster_id, "-c", str(props),
                ),
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
        pid = spawn(self.name, self.java("kafka.Kafka", str(props)))
        say(f"kafka started (pid {pid}), waiting for the broker")
        wait_until("kafka", self.healthy, 120, LOGS / "kafka.log")

    def stop(self) -> None:
        stop_pid(self.name, self.marker, timeout_s=30)


def broker_answers() -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=f"{HOST}:{KAFKA_PORT}", request_timeout_ms=3000
        )
        await admin.start()
        try:
            await admin.list_topics()
            return True
        finally:
            await admin.close()

    return asyncio.run(probe())


def kafka_bootstrap() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", f"{HOST}:{KAFKA_PORT}")


def ensure_topics(topics_file: Path) -> list[str]:
    """Create missing topics from `topics_file`; align configs of existing ones."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    spec = tomllib.loads(topics_file.read_text())
    defaults = spec.get("defaults", {})

    async def apply() -> list[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap())
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            created: list[str] = []
            missing = [t for t in spec["topic"] if t["name"] not in existing]
            if missing:
                response = await admin.create_topics(
                    [
                        NewTopic(
                            name=t["name"],
                            num_partitions=t.get("partitions", defaults.get("partitions", 6)),
                            replication_factor=t.get(
                                "replication_factor", defaults.get("replication_factor", 1)
                            ),
                            topic_configs=t.get("config", {}),
                        )
                        for t in missing
                    ]
                )
                created = [t["name"] for t in missing]
                topic_already_exists = 36
                errors = [
                    entry
                    for entry in response.topic_errors  # (topic, error_code[, message])
                    if entry[1] not in (0, topic_already_exists)
                ]
                if errors:
                    raise RuntimeError(f"could not create topics: {errors}")
            present = [t for t in spec["topic"] if t["name"] in existing and t.get("config")]
            if present:
                await admin.alter_configs(
                    [
                        ConfigResource(ConfigResourceType.TOPIC, t["name"], t["config"])
                        for t in present
                    ]
                )
            return created
        finally:
            await admin.close()

    return asyncio.run(apply())


def group_coordinator_ready() -> bool:
    """Whether consumer groups can join. A new cluster creates its offsets topic on the first
    such request; services that start before that log GroupCoordinatorNotAvailable errors."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap())
        await admin.start()
        try:
            await admin.find_coordinator("credflow-infra-probe")
            return True
        finally:
            await admin.close()

    return asyncio.run(probe())


# ---------------------------------------------------------------------------------------------
# PostgreSQL (Debian packages, run as a non-root user)


@dataclass(frozen=True)
class Postgres:
    name: str = "postgres"

    @property
    def runs_as_other_user(self) -> bool:
        return os.geteuid() == 0

    @property
    def data(self) -> Path:
        # PostgreSQL refuses to run as root. As root we run it as the Debian package's
        # `postgres` user, which cannot enter /root, so its data lives in that user's home.
        if self.runs_as_other_user:
            return Path(pwd.getpwnam("postgres").pw_dir) / "credflow" / "data"
        return STATE / "postgres" / "data"

    def bindir(self) -> Path:
        candidates = sorted(
            glob.glob("/usr/lib/postgresql/*/bin/initdb"),
            key=lambda p: int(Path(p).parts[-3]),
        )
        if not candidates:
            apt_install("postgresql-15", "postgresql-contrib-15")
            return self.bindir()
        newest = Path(candidates[-1]).parent
        if int(newest.parts[-2]) < 15:
            raise RuntimeError(f"PostgreSQL 15 or newer needed, found {newest}")
        return newest

    def as_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if self.runs_as_other_user else argv

    def ctl(self, *args: str) -> list[str]:
        return self.as_owner([str(self.bindir() / "pg_ctl"), "-D", str(self.data), *args])

    def healthy(self) -> bool:
        result = subprocess.run(
            [
                str(self.bindir() / "pg_isready"),
                "-h", HOST, "-p", str(POSTGRES_PORT), "-U", POSTGRES_USER, "-d", POSTGRES_DB,
            ],
            capture_output=True,
            check=False,
        )  # fmt: skip
        return result.returncode == 0

    def running(self) -> bool:
        return subprocess.run(self.ctl("status"), capture_output=True, check=False).returncode == 0

    def init(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        say(f"initdb {self.data}")
        self.data.parent.mkdir(parents=True, exist_ok=True)
        if self.runs_as_other_user:
            shutil.chown(self.data.parent, "postgres", "postgres")
        run(
            self.as_owner(
                [
                    str(self.bindir() / "initdb"),
                    "-D", str(self.data),
                    "-U", POSTGRES_USER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        settings = [
            f"port = {POSTGRES_PORT}",
            f"listen_addresses = '{HOST}'",
            f"unix_socket_directories = '{self.data}'",
            "max_connections = 300",
            "shared_buffers = 256MB",
            # Throwaway development data: durability traded for speed. Never in production.
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "logging_collector = off",
        ]
        conf = self.data / "postgresql.auto.conf"
        run(self.as_owner(["sh", "-c", f"cat >> {conf}"]), input="\n".join(settings) + "\n",
            text=True)  # fmt: skip

    def start(self) -> None:
        log = self.data / "server.log"
        if self.running():
            wait_until("postgres", self.healthy, 30, None)
            say(f"postgres already running on {HOST}:{POSTGRES_PORT}")
        else:
            if port_open(POSTGRES_PORT):
                raise RuntimeError(f"port {POSTGRES_PORT} is taken by a process we did not start")
            self.init()
            say("starting postgres")
            run(self.ctl("start", "-w", "-t", "60", "-l", str(log)), stdout=subprocess.DEVNULL)
            wait_until("postgres", self.healthy, 30, None)
        self.ensure_database()
        # pg_ctl keeps its own pid file (postmaster.pid); we point to it and its log.
        RUN.mkdir(parents=True, exist_ok=True)
        LOGS.mkdir(parents=True, exist_ok=True)
        pid_link, log_link = pid_file(self.name), LOGS / "postgres.log"
        for link, target in ((pid_link, self.data / "postmaster.pid"), (log_link, log)):
            if not link.is_symlink():
                link.unlink(missing_ok=True)
                link.symlink_to(target)

    def ensure_database(self) -> None:
        import psycopg

        url = f"postgresql://{POSTGRES_USER}@{HOST}:{POSTGRES_PORT}/postgres"
        with psycopg.connect(url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (POSTGRES_DB,)
            ).fetchone()
            if exists is None:
                conn.execute(f'CREATE DATABASE "{POSTGRES_DB}"')

    def stop(self) -> None:
        if (self.data / "PG_VERSION").exists() and self.running():
            say("stopping postgres")
            run(self.ctl("stop", "-m", "fast", "-w"), stdout=subprocess.DEVNULL)
        pid_file(self.name).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# MinIO (built from source with `go install`)


@dataclass(frozen=True)
class MinIO:
    name: str = "minio"
    marker: str = f"minio-{MINIO_VERSION} server"

    @property
    def binary(self) -> Path:
        return CACHE / "bin" / f"minio-{MINIO_VERSION}"

    def install(self) -> None:
        if self.binary.exists():
            return
        if shutil.which("go") is None:
            apt_install("golang-go")
        say(f"building MinIO {MINIO_VERSION} with go install (first run only, a few minutes)")
        gobin = CACHE / "gobuild"
        gobin.mkdir(parents=True, exist_ok=True)
        run(
            ["go", "install", f"{MINIO_MODULE}@{MINIO_VERSION}"],
            env={**os.environ, "GOBIN": str(gobin), "CGO_ENABLED": "0", "GOFLAGS": "-trimpath"},
        )
        self.binary.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(gobin / "minio", self.binary)

    def healthy(self) -> bool:
        url = f"http://{HOST}:{MINIO_PORT}/minio/health/live"
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)

    def start(self) -> None:
        pid = read_pid(self.name)
        if pid is not None and process_matches(pid, self.marker):
            say(f"minio already running (pid {pid}) on {HOST}:{MINIO_PORT}")
        else:
            if port_open(MINIO_PORT):
                raise RuntimeError(f"port {MINIO_PORT} is taken by a process we did not start")
            self.install()
            data = STATE / "minio" / "data"
            data.mkdir(parents=True, exist_ok=True)
            pid = spawn(
                self.name,
                [
                    str(self.binary), "server",
                    "--address", f"{HOST}:{MINIO_PORT}",
                    "--console-address", f"{HOST}:{MINIO_CONSOLE_PORT}",
                    "--quiet",
                    str(data),
                ],
                env={
                    "MINIO_ROOT_USER": MINIO_USER,
                    "MINIO_ROOT_PASSWORD": MINIO_PASSWORD,
                    "MINIO_BROWSER": "on",
                    "MINIO_UPDATE": "off",
                },
            )  # fmt: skip
            say(f"minio started (pid {pid})")
        wait_until("minio", self.healthy, 60, LOGS / "minio.log")
        self.ensure_bucket()

    def ensure_bucket(self) -> None:
        from minio import Minio

        client = Minio(
            f"{HOST}:{MINIO_PORT}", access_key=MINIO_USER, secret_key=MINIO_PASSWORD, secure=False
        )
        if not client.bucket_exists(MINIO_BUCKET):
            client.make_bucket(MINIO_BUCKET)

    def stop(self) -> None:
        stop_pid(self.name, self.marker)


# ---------------------------------------------------------------------------------------------
# SMTP sink (aiosmtpd) with a Mailpit-compatible read API


@dataclass(frozen=True)
class SmtpSink:
    name: str = "smtp"
    marker: str = "smtp_sink.py"

    def healthy(self) -> bool:
        url = f"http://{HOST}:{MAIL_HTTP_PORT}/livez"
        with urllib.request.urlopen(url, timeout=2) as response:
            return port_open(SMTP_PORT) and bool(response.status == 200)

    def start(self) -> None:
        pid = read_pid(self.name)
        if pid is not None and process_matches(pid, self.marker):
            say(f"smtp sink already running (pid {pid}) on {HOST}:{SMTP_PORT}")
        else:
            for port in (SMTP_PORT, MAIL_HTTP_PORT):
                if port_open(port):
                    raise RuntimeError(f"port {port} is taken by a process we did not start")
            pid = spawn(
                self.name,
                [
                    sys.executable, str(HERE / "smtp_sink.py"),
                    "--smtp-port", str(SMTP_PORT),
                    "--http-port", str(MAIL_HTTP_PORT),
                    "--maildir", str(STATE / "mail"),
                ],
            )  # fmt: skip
            say(f"smtp sink started (pid {pid})")
        wait_until("smtp sink", self.healthy, 30, LOGS / "smtp.log")

    def stop(self) -> None:
        stop_pid(self.name, self.marker)


class Server(Protocol):
    @property
    def name(self) -> str: ...

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def healthy(self) -> bool: ...


SERVERS: dict[str, Server] = {
    "postgres": Postgres(),
    "kafka": Kafka(),
    "minio": MinIO(),
    "smtp": SmtpSink(),
}


def endpoints() -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": f"{HOST}:{KAFKA_PORT}",
        "DATABASE_URL": f"postgresql://{POSTGRES_USER}@{HOST}:{POSTGRES_PORT}/{POSTGRES_DB}",
        "S3_ENDPOINT_URL": f"http://{HOST}:{MINIO_PORT}",
        "S3_ACCESS_KEY": MINIO_USER,
        "S3_SECRET_KEY": MINIO_PASSWORD,
        "S3_BUCKET": MINIO_BUCKET,
        "SMTP_HOST": HOST,
        "SMTP_PORT": str(SMTP_PORT),
        "MAIL_API_URL": f"http://{HOST}:{MAIL_HTTP_PORT}",
    }


@app.command()
def up(
    only: list[str] = typer.Option(  # noqa: B008 - typer's documented style
        None, "--only", help="start only these servers (postgres, kafka, minio, smtp)"
    ),
) -> None:
    """Install what is missing, start every server, wait until each is healthy."""
    started = time.monotonic()
    names = only or list(SERVERS)
    for name in names:
        if name not in SERVERS:
            raise typer.BadParameter(f"unknown server {name!r}; choose from {', '.join(SERVERS)}")
    # Start the slow ones first so their JVM and build time overlaps nothing else we wait on.
    for name in names:
        SERVERS[name].start()
    if "kafka" in names:
        created = ensure_topics(REPO / "deploy" / "kafka" / "topics.toml")
        wait_until("kafka's group coordinator", group_coordinator_ready, 60, None)
        say(f"kafka topics ready ({len(created)} created)")
    say(f"infrastructure up in {time.monotonic() - started:.1f}s")
    for key, value in endpoints().items():
        say(f"  {key}={value}")


@app.command()
def stop(
    only: list[str] = typer.Option(  # noqa: B008 - typer's documented style
        ..., "--only", help="the servers to stop (postgres, kafka, minio, smtp)"
    ),
) -> None:
    """Stop some servers and keep their data (an outage, for the outage tests); `up --only`
    starts them again."""
    for name in only:
        if name not in SERVERS:
            raise typer.BadParameter(f"unknown server {name!r}; choose from {', '.join(SERVERS)}")
        SERVERS[name].stop()
        say(f"{name} stopped")


@app.command()
def down() -> None:
    """Stop exactly the processes we started (by pid file)."""
    stop_pid("credflow", "credflow serve")  # a backgrounded `make run`
    for server in reversed(list(SERVERS.values())):
        server.stop()
    say("infrastructure stopped")


@app.command()
def reset() -> None:
    """Stop everything and delete every server's data (databases, topics, stored files, mail),
    so the next `up` starts empty. Downloads and builds stay cached."""
    down()
    for path in (Kafka().data / "logs", Postgres().data, STATE / "minio" / "data", STATE / "mail"):
        if path.exists():
            shutil.rmtree(path)
            say(f"deleted {path}")


@app.command()
def status() -> None:
    """Show which servers run."""
    for name, server in SERVERS.items():
        try:
            ok = server.healthy()
        except Exception:  # any failure to probe means "not healthy"
            ok = False
        typer.echo(f"{name:<9} {'up' if ok else 'down'}   pid file: {pid_file(name)}")


@app.command()
def env() -> None:
    """Print shell exports for the endpoints (eval "$(python deploy/local/infra.py env)")."""
    for key, value in endpoints().items():
        typer.echo(f"export {key}={value}")


@app.command()
def topics() -> None:
    """Create missing topics from deploy/kafka/topics.toml (on $KAFKA_BOOTSTRAP_SERVERS)."""
    created = ensure_topics(REPO / "deploy" / "kafka" / "topics.toml")
    say(f"created: {', '.join(created) or 'none'}")


if __name__ == "__main__":
    app()
