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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from time import monotonic
from typing import Annotated, Any, cast
from uuid import UUID

import jwt
import structlog
from cachetools import TTLCache
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic_settings import BaseSettings, SettingsConfigDict

from credflow_common.outages import unavailable_problem
from credflow_common.problems import ProblemError

log = structlog.get_logger("credflow.auth")
DEV_SECRET = "credflow-development-secret-change-me"  # noqa: S105 - development only
READ_ONLY_ROLES = frozenset({"client_viewer"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PLATFORM_PERMISSION = "platform:organisations"
"""Held by platform operators: may create organisations."""
PEOPLE_PERMISSION = "platform:people"
"""Held by the console's own token: may find people by email in every organisation (sign-in)."""
PERSONAL_DATA_PERMISSION = "platform:personal-data"
"""Held by services and subscribers that seal or open people's personal fields: may fetch a
person's data key (ADR 0017)."""


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

    def narrowed_to(self, standing: Standing) -> Principal:
        """The token's roles and permissions that the person still holds. Platform permissions
        are not the directory's to give: they stay as the token's signer gave them."""
        permissions = self.permissions
        if standing.permissions is not None:
            permissions = frozenset(
                p for p in permissions if p in standing.permissions or p.startswith("platform:")
            )
        roles = self.roles & standing.roles
        if roles == self.roles and permissions == self.permissions:
            return self
        return replace(self, roles=roles, permissions=permissions)


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


@dataclass(frozen=True)
class Standing:
    """A person as a service's copy of the directory has them now."""

    status: str
    roles: frozenset[str]
    permissions: frozenset[str] | None = None
    """None: this copy does not keep permissions (a token's are then taken as they are)."""


StandingLookup = Callable[[UUID, UUID], Awaitable[Standing | None]]
"""A person's standing by organisation and user id, or None when the copy does not know them."""

_NOT_CACHED = object()


class CurrentStandings:
    """Holds every token to its person's standing now, as the service's copy of the directory
    has it: a deactivated person's token is refused (401), and a token's roles and permissions
    are narrowed to those the person holds now, so a removed role stops working within
    seconds although the token still names it. A token can only narrow a person's roles.

    A token stays valid until it expires, so every request asks. Answers are cached for `ttl_s`
    (a change takes effect within that, plus the moment the directory event takes to reach the
    service). An unknown person passes as the token says: a platform operator, or a user this
    copy has not learned yet (tokens are only minted for people the directory knows).
    """

    def __init__(
        self, lookup: StandingLookup, ttl_s: float = 2.0, timer: Callable[[], float] = monotonic
    ) -> None:
        self.lookup = lookup
        self.standings: TTLCache[tuple[UUID, UUID], Standing | None] = TTLCache(
            100_000, ttl_s, timer=timer
        )

    async def standing(self, organisation_id: UUID, user_id: UUID) -> Standing | None:
        key = (organisation_id, user_id)
        # One read: an entry may expire between a membership test and a lookup (a KeyError).
        found = self.standings.get(key, _NOT_CACHED)
        if found is _NOT_CACHED:
            found = await self.lookup(*key)
            self.standings[key] = found
        return cast(Standing | None, found)

    async def hold_to_standing(self, principal: Principal) -> Principal:
        standing = await self.standing(principal.organisation_id, principal.user_id)
        if standing is None:
            return principal
        if standing.status == "deactivated":
            raise invalid_token("this person is deactivated")
        return principal.narrowed_to(standing)


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
        except jwt.PyJWKClientConnectionError as exc:
            # The keys cannot be fetched now: the token may well be good, so not a 401 (which
            # signs the console's people out) but "try again shortly".
            raise unavailable_problem("identity provider's key set") from exc
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
    standings: CurrentStandings | None = getattr(request.app.state, "standings", None)
    if standings is not None:
        principal = await standings.hold_to_standing(principal)
    if principal.read_only and request.method not in SAFE_METHODS:
        raise ProblemError(403, "Forbidden", "client viewers only read; they change nothing")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
