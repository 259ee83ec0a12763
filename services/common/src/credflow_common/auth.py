"""Authentication and tenant scoping.

Bearer JWTs: HS256 with a shared secret for development and tests, or RS256 (and other
asymmetric algorithms) verified against an identity provider's JWKS URL. Claims:
`sub` (user id), `org` (organisation id), `roles`, `permissions`, and optionally `name`.

Every route that touches tenant data takes the organisation from its path and calls
`principal.require_organisation(org)`: a token of another organisation gets 404, exactly as if
the object did not exist, so nothing about other tenants leaks (not even that an id exists).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import jwt
import structlog
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic_settings import BaseSettings, SettingsConfigDict

from credflow_common.problems import ProblemError

DEV_SECRET = "credflow-development-secret-change-me"  # noqa: S105 - development only
PLATFORM_PERMISSION = "platform:organisations"
"""Held by platform operators: may create organisations."""


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDFLOW_AUTH_", env_file=".env", extra="ignore")

    jwt_secret: str = DEV_SECRET
    jwks_url: str | None = None
    audience: str | None = None
    issuer: str | None = None
    leeway_s: int = 30


@dataclass(frozen=True)
class Principal:
    user_id: UUID
    organisation_id: UUID
    roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    name: str | None = None

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def can(self, permission: str) -> bool:
        return permission in self.permissions or "admin" in self.roles

    def require_organisation(self, organisation_id: UUID) -> None:
        if organisation_id != self.organisation_id:
            raise ProblemError(404, "Not Found", f"no organisation {organisation_id}")

    def require_role(self, *roles: str) -> None:
        """403 unless the caller has one of `roles` (admins pass every role check)."""
        if not self.has_role("admin", *roles):
            raise ProblemError(
                403, "Forbidden", f"this needs one of the roles: {', '.join(('admin', *roles))}"
            )

    @property
    def is_platform_operator(self) -> bool:
        return PLATFORM_PERMISSION in self.permissions


@dataclass
class TokenVerifier:
    settings: AuthSettings
    _jwks: jwt.PyJWKClient | None = field(default=None, init=False)

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg", "")
            if algorithm == "HS256":
                key: Any = self.settings.jwt_secret
            elif self.settings.jwks_url and algorithm in ("RS256", "RS384", "RS512", "ES256"):
                if self._jwks is None:
                    self._jwks = jwt.PyJWKClient(self.settings.jwks_url, cache_keys=True)
                key = self._jwks.get_signing_key_from_jwt(token).key
            else:
                raise jwt.InvalidAlgorithmError(f"algorithm {algorithm!r} is not accepted")
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_s,
                options={
                    "require": ["sub", "org", "exp"],
                    "verify_aud": bool(self.settings.audience),
                },
            )
            return Principal(
                user_id=UUID(claims["sub"]),
                organisation_id=UUID(claims["org"]),
                roles=frozenset(claims.get("roles", [])),
                permissions=frozenset(claims.get("permissions", [])),
                name=claims.get("name"),
            )
        except (jwt.PyJWTError, ValueError, KeyError) as exc:
            raise ProblemError(401, "Unauthorized", f"invalid token: {exc}", extra={}) from exc


def issue_dev_token(
    user_id: UUID,
    organisation_id: UUID,
    roles: list[str],
    permissions: list[str] | None = None,
    secret: str = DEV_SECRET,
    ttl: timedelta = timedelta(hours=12),
    name: str | None = None,
) -> str:
    """An HS256 token for development, tests and the demo organisation."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "org": str(organisation_id),
        "roles": roles,
        "permissions": permissions or [],
        "iat": now,
        "exp": now + ttl,
    }
    if name:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm="HS256")


_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    # Async, so the request's log context gets the bindings below (a sync dependency runs in a
    # worker thread, whose context changes are lost) and no thread hop is paid per request.
    if credentials is None:
        raise ProblemError(401, "Unauthorized", "send a bearer token in the Authorization header")
    verifier: TokenVerifier = request.app.state.token_verifier
    if verifier.settings.jwks_url:  # a key lookup may fetch the JWKS document: off the loop
        principal = await run_in_threadpool(verifier.verify, credentials.credentials)
    else:
        principal = verifier.verify(credentials.credentials)
    structlog.contextvars.bind_contextvars(
        tenant_id=str(principal.organisation_id), user_id=str(principal.user_id)
    )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
