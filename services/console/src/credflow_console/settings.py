"""The console's settings (`CREDFLOW_CONSOLE_*`), read from the environment or `.env`."""

from __future__ import annotations

import os
from pathlib import Path
from uuid import UUID

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from credflow_common.settings import state_dir

DEFAULT_PORTS = {
    "directory": 8101, "submission": 8102, "review": 8103, "importer": 8104,
    "reminder": 8105, "projection": 8106, "console": 8100,
}  # fmt: skip


def local_url(service: str) -> str:
    """Where `credflow serve` runs a service on this machine (CREDFLOW_<NAME>_PORT or default)."""
    port = os.environ.get(f"CREDFLOW_{service.upper()}_PORT", DEFAULT_PORTS[service])
    return f"http://127.0.0.1:{port}"


DEV_SESSION_SECRET = "credflow-console-development-session-secret"  # noqa: S105 - development only


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CREDFLOW_CONSOLE_", env_file=".env", extra="ignore"
    )

    public_url: str = Field(
        default_factory=lambda: local_url("console"),
        description="The console's address as browsers reach it (OIDC redirect, token issuer).",
    )
    directory_url: str = Field(default_factory=lambda: local_url("directory"))
    submission_url: str = Field(default_factory=lambda: local_url("submission"))
    review_url: str = Field(default_factory=lambda: local_url("review"))
    importer_url: str = Field(default_factory=lambda: local_url("importer"))
    reminder_url: str = Field(default_factory=lambda: local_url("reminder"))
    views_url: str = Field(default_factory=lambda: local_url("projection"))

    session_secret: SecretStr = Field(
        default=SecretStr(DEV_SESSION_SECRET),
        description="Signs the session cookie; set a long random value outside development.",
    )
    session_max_age_s: int = Field(
        default=8 * 3600, ge=60, description="A session's lifetime: sign in again after it."
    )
    session_idle_timeout_s: int = Field(
        default=3600, ge=60, description="A session unused for this long has ended."
    )
    signing_key_file: Path = Field(
        default_factory=lambda: state_dir() / "console" / "signing-key.pem",
        description="RSA private key (PEM) for the API tokens; created on first start if"
        " missing. Every console instance of a deployment reads the same file.",
    )
    api_token_ttl_s: int = Field(default=600, ge=60, le=3600)

    oidc_issuer: str | None = Field(
        default=None, description="The identity provider's issuer URL (its discovery document"
        " is <issuer>/.well-known/openid-configuration). Unset: no OIDC sign-in.",
    )  # fmt: skip
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid email profile"

    dev_organisation_id: UUID = Field(
        default=UUID("5e43ab90-ade4-5731-9609-c3c733eaa26e"),
        description='Development only: whose people the "sign in as" page lists (the demo'
        " organisation `credflow demo` creates).",
    )
    api_timeout_s: float = Field(default=10.0, gt=0)
    refresh_s: int = Field(
        default=10, ge=1, description="How often the queue and my credentials refresh themselves."
    )
