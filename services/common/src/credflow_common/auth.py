"""Authentication and tenant scoping.

Bearer JWTs: HS256 with a shared secret for development and tests, or RS256 (and other
asymmetric algorithms) verified against an identity provider's JWKS URL. Claims:
`sub` (user id), `org` (organisation id), `roles`, `permissions`, and optionally `name`.

Every route that touches tenant data takes the organisation from its path and calls
`principal.require_organisation(org)`: a token of another organisation gets 404, exactly as if
the object did not exist, so nothing about other tenants leaks (not even that an id exists).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import jwt
import structlog
from cachetools import TTLCache
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic_settings import BaseSettings, SettingsConfigDict

from credflow_common.problems import ProblemError

log = structlog.get_logger("credflow.auth")
DEV_SECRET = "credflow-development-secret-change-me"  # noqa: S105 - development only
READ_ONLY_ROLES = frozenset({"client_viewer"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PLATFORM_PERMISSION = "platform:organisations"
"""Held by platform operators: may create organisations."""
PEOPLE_PERMISSION = "platform:people"
"""Held by the console's own token: may find people by email in every organisation (sign-in)."""


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDFLOW_AUTH_", env_file=".env", extra="ignore")

    jwt_secret: str = DEV_SECRET
    """HS256 key; empty: HS256 tokens are refused. `for_environment` empties the development
    default in production, where anyone could sign with it."""
    jwks_url: str | None = None
    audience: str | None = None
    issuer: str | None = None
    leeway_s: int = 30

    def for_environment(self, environment: str) -> AuthSettings:
        if environment == "production" and self.jwt_secret == DEV_SECRET:
            log.warning(
                "HS256 tokens refused: CREDFLOW_AUTH_JWT_SECRET is the development default;"
                " set it, or sign tokens for CREDFLOW_AUTH_JWKS_URL"
            )
            return self.model_copy(update={"jwt_secret": ""})
        return self


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
    def read_only(self) -> bool:
        """A client viewer (and nothing more) reads everything it may see and changes nothing."""
        return bool(self.roles) and self.roles <= READ_ONLY_ROLES and not self.permissions

    @property
    def is_platform_operator(self) -> bool:
        return PLATFORM_PERMISSION in self.permissions


def invalid_token(detail: str) -> ProblemError:
    """401 for a token that was sent but cannot be used (RFC 6750's `invalid_token`)."""
    description = detail.encode("ascii", "replace").decode().replace("\\", "/").replace('"', "'")
    return ProblemError(
        401,
        "Unauthorized",
        detail,
        headers={
            "WWW-Authenticate": f'Bearer realm="credflow", error="invalid_token", '
            f'error_description="{description}"'
        },
    )


UserStatusLookup = Callable[[UUID, UUID], Awaitable[str | None]]
"""The status (`active`, `deactivated`, or None when unknown) of a person, by organisation and
user id, as the service's own copy of the directory has it."""


class ActiveUsers:
    """Refuses the tokens of people the service's copy of the directory shows deactivated.

    A token stays valid until it expires, so every request asks. Answers are cached for `ttl_s`
    (a deactivation takes effect within that, plus the moment the directory event takes to
    reach the service). An unknown person passes: a platform operator, or a user this copy has
    not learned yet (tokens are only minted for people the directory knows).
    """

    def __init__(self, lookup: UserStatusLookup, ttl_s: float = 2.0) -> None:
        self.lookup = lookup
        self.statuses: TTLCache[tuple[UUID, UUID], str | None] = TTLCache(100_000, ttl_s)

    async def require_active(self, principal: Principal) -> None:
        key = (principal.organisation_id, principal.user_id)
        if key in self.statuses:
            status = self.statuses[key]
        else:
            status = await self.lookup(*key)
            self.statuses[key] = status
        if status == "deactivated":
            raise invalid_token("this person is deactivated")


@dataclass
class TokenVerifier:
    settings: AuthSettings
    _jwks: jwt.PyJWKClient | None = field(default=None, init=False)

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg", "")
            if algorithm == "HS256" and self.settings.jwt_secret:
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
            raise invalid_token(f"invalid token: {exc}") from exc


def issue_dev_token(
    user_id: UUID,
    organisation_id: UUID,
    roles: list[str],
    permissions: list[str] | None = None,
    *,
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
    if principal.read_only and request.method not in SAFE_METHODS:
        raise ProblemError(403, "Forbidden", "client viewers only read; they change nothing")
    active_users: ActiveUsers | None = getattr(request.app.state, "active_users", None)
    if active_users is not None:
        await active_users.require_active(principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
