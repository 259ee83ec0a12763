"""The console's signing key: it mints the short-lived RS256 API tokens a signed-in person's
requests carry, and publishes the public half as a JWKS that every service verifies them with
(`CREDFLOW_AUTH_JWKS_URL=<console>/.well-known/jwks.json`)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    """The key in `path`; a new 2048-bit key written there (mode 0600) when there is none."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA private key")
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.touch(mode=0o600)
    temporary.write_bytes(pem)
    temporary.replace(path)  # two instances starting at once: the last rename wins, both load it
    return load_or_create_key(path)


@dataclass(frozen=True)
class Person:
    """Who is signed in, as the directory knows them."""

    user_id: UUID
    organisation_id: UUID
    name: str
    email: str
    roles: tuple[str, ...]
    permissions: tuple[str, ...]

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    @property
    def only_views(self) -> bool:
        """A client viewer and nothing more: reads the organisation, holds no credentials."""
        return bool(self.roles) and set(self.roles) <= {"client_viewer"} and not self.permissions

    @property
    def reviews(self) -> bool:
        return self.has_role("admin", "reviewer", "manager")


class TokenMinter:
    def __init__(self, key: rsa.RSAPrivateKey, issuer: str, ttl_s: int) -> None:
        self.key, self.issuer, self.ttl = key, issuer, timedelta(seconds=ttl_s)
        public = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        # RFC 7638 thumbprint: the same key always gets the same id, on every instance.
        canonical = json.dumps(
            {"e": public["e"], "kty": "RSA", "n": public["n"]}, separators=(",", ":")
        )
        digest = hashlib.sha256(canonical.encode()).digest()
        self.kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        self.jwk = {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk]}

    def mint(self, person: Person, now: datetime | None = None) -> tuple[str, datetime]:
        """An API token for `person` and the moment it expires."""
        issued = now or datetime.now(UTC)
        expires = issued + self.ttl
        claims = {
            "iss": self.issuer, "sub": str(person.user_id), "org": str(person.organisation_id),
            "roles": list(person.roles), "permissions": list(person.permissions),
            "name": person.name, "iat": issued, "exp": expires,
        }  # fmt: skip
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        return token, expires

    def mint_for_platform(self, permissions: list[str]) -> str:
        """A token for the console itself (finding people by email at sign-in)."""
        now = datetime.now(UTC)
        claims = {
            "iss": self.issuer, "sub": str(UUID(int=1)), "org": str(UUID(int=0)),
            "roles": [], "permissions": permissions, "iat": now, "exp": now + timedelta(minutes=1),
        }  # fmt: skip
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
