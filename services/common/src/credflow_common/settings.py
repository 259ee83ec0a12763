"""Settings shared by every service, read from the environment (and a `.env` file if present).

Infrastructure endpoints use the plain names the tests and docker-compose use
(`KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL`, ...); credflow's own knobs use the `CREDFLOW_` prefix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def state_dir() -> Path:
    """Where a process on this machine keeps what it makes itself (keys it creates on first
    start): `$CREDFLOW_CACHE/state`, by default `~/.cache/credflow/state`."""
    return Path(os.environ.get("CREDFLOW_CACHE", Path.home() / ".cache" / "credflow")) / "state"


class InfraSettings(BaseSettings):
    """Where the real parts are. Defaults match `deploy/local` (the native launcher)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    database_url: str = "postgresql://credflow@127.0.0.1:15432/credflow"
    s3_endpoint_url: str = "http://127.0.0.1:19000"
    s3_access_key: str = "credflow"
    s3_secret_key: str = "credflow-secret"  # noqa: S105 - local development default
    s3_bucket: str = "credflow-media"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 11025


class RuntimeSettings(BaseSettings):
    """How a credflow process behaves."""

    model_config = SettingsConfigDict(env_prefix="CREDFLOW_", env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = Field(
        default="production",
        description="production unless said otherwise: a deployment that forgets this setting"
        " gets no development sign-in, no development secrets and locked operations endpoints."
        " `make run`, docker-compose and the tests say development.",
    )
    log_level: str = "INFO"
    log_format: Literal["json", "console"] | None = Field(
        default=None, description="Defaults to json in production, console elsewhere."
    )
    http_host: str = "127.0.0.1"
    db_pool_size: int = 10
    topic_prefix: str = Field(
        default="",
        description="Namespace for every topic and consumer group, when deployments share a"
        " Kafka cluster.",
    )
    exit_on_task_failure: bool = Field(
        default=True,
        description="End the process when a background task fails for good (an orchestrator"
        " restarts it); off only for tests that run services inside the test process.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="In production, /metrics answers only a scrape that sends this bearer"
        " token (unset: /metrics answers no one); elsewhere it is open.",
    )
    api_docs: bool = Field(
        default=True, description="Serve /docs and /openapi.json (false: neither is served)."
    )
    min_position_wait_s: float = Field(
        default=5.0, ge=0, le=30, description="Longest a view request waits for min_position."
    )

    @property
    def effective_log_format(self) -> Literal["json", "console"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.environment == "production" else "console"
