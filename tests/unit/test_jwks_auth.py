"""RS256 tokens from an identity provider, verified against its JWKS URL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from credflow_common.auth import AuthSettings, TokenVerifier, issue_dev_token
from credflow_common.problems import ProblemError
from credflow_contracts.ids import uuid7


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[Any, str]]:
    """A signing key and a JWKS URL served on loopback, as an identity provider would."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "idp-key-1", "use": "sig", "alg": "RS256"}]})

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: Any) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield key, f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


def rs256(key: Any, **claims: Any) -> str:
    now = datetime.now(UTC)
    payload = {"sub": str(uuid7()), "org": str(uuid7()), "exp": now + timedelta(minutes=5),
               "iss": "https://idp.example.test", "aud": "credflow", **claims}  # fmt: skip
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "idp-key-1"})


def verifier(jwks_url: str) -> TokenVerifier:
    return TokenVerifier(
        AuthSettings(jwks_url=jwks_url, audience="credflow", issuer="https://idp.example.test")
    )


def test_rs256_token_signed_by_the_provider_is_accepted(provider: tuple[Any, str]) -> None:
    key, url = provider
    principal = verifier(url).verify(rs256(key, roles=["reviewer"], permissions=["users:manage"]))
    assert principal.has_role("reviewer")
    assert principal.can("users:manage")


def test_rs256_token_signed_by_another_key_or_for_another_audience_is_refused(
    provider: tuple[Any, str],
) -> None:
    key, url = provider
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(ProblemError) as forged:
        verifier(url).verify(rs256(stranger))
    assert forged.value.status == 401
    with pytest.raises(ProblemError, match="Audience doesn"):
        verifier(url).verify(rs256(key, aud="someone-else"))


def test_rs256_is_refused_when_no_jwks_url_is_configured(provider: tuple[Any, str]) -> None:
    key, _ = provider
    with pytest.raises(ProblemError, match="not accepted"):
        TokenVerifier(AuthSettings()).verify(rs256(key))


def test_in_production_the_development_secret_signs_nothing(provider: tuple[Any, str]) -> None:
    """Anyone can read the development secret: in production a token it signs is refused, while
    the provider's tokens are still accepted and a configured secret still works."""
    key, url = provider
    forged = issue_dev_token(uuid7(), uuid7(), ["admin"])
    TokenVerifier(AuthSettings().for_environment("development")).verify(forged)
    settings = AuthSettings(jwks_url=url, audience="credflow", issuer="https://idp.example.test")
    production = TokenVerifier(settings.for_environment("production"))
    with pytest.raises(ProblemError):
        production.verify(forged)
    assert production.verify(rs256(key, roles=["reviewer"])).has_role("reviewer")
    own = AuthSettings(jwt_secret="a-real-secret-of-this-deployment")
    token = issue_dev_token(uuid7(), uuid7(), ["admin"], secret=own.jwt_secret)
    assert TokenVerifier(own.for_environment("production")).verify(token).has_role("admin")
