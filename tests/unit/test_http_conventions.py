"""Problem details, authentication, tenant scoping and request context of every service app."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated
from uuid import UUID

import jwt
import pytest
from fastapi import Header
from fastapi.testclient import TestClient
from pydantic import BaseModel, model_validator

from credflow_common.auth import DEV_SECRET, CurrentPrincipal, issue_dev_token
from credflow_common.errors import ConcurrencyError
from credflow_common.http import ServiceInfo, create_service_app
from credflow_common.problems import FieldError, ProblemError
from credflow_contracts.ids import uuid7

ORG, OTHER_ORG, USER = uuid7(), uuid7(), uuid7()


class NewCredential(BaseModel):
    issued_on: date
    expires_on: date | None = None

    @model_validator(mode="after")
    def expiry_after_issue(self) -> NewCredential:
        if self.expires_on and self.expires_on <= self.issued_on:
            raise ValueError("expires_on must be after issued_on")
        return self


def build_client() -> TestClient:
    app = create_service_app(ServiceInfo(name="test"))

    @app.post("/organisations/{organisation_id}/credentials")
    async def add(
        organisation_id: UUID,
        body: NewCredential,
        principal: CurrentPrincipal,
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> dict[str, str]:
        principal.require_organisation(organisation_id)
        if body.issued_on.year < 1950:
            raise ProblemError(
                422, "Implausible date", errors=[FieldError("body.issued_on", "before 1950")]
            )
        return {"user": str(principal.user_id)}

    @app.post("/conflict")
    async def conflict() -> None:
        raise ConcurrencyError("credential-1", 3, 4)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    return TestClient(app, raise_server_exceptions=False)


def bearer(
    org: UUID = ORG, roles: tuple[str, ...] = ("worker",), **kwargs: object
) -> dict[str, str]:
    token = issue_dev_token(USER, org, list(roles), **kwargs)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


def test_a_valid_token_of_the_organisation_is_accepted() -> None:
    response = build_client().post(
        f"/organisations/{ORG}/credentials", json={"issued_on": "2026-01-01"}, headers=bearer()
    )
    assert response.status_code == 200
    assert response.json() == {"user": str(USER)}


def test_missing_or_bad_tokens_get_401_problems() -> None:
    client = build_client()
    url = f"/organisations/{ORG}/credentials"
    missing = client.post(url, json={"issued_on": "2026-01-01"})
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    forged = jwt.encode(
        {"sub": str(USER), "org": str(ORG), "exp": 9999999999},
        "wrong-secret-which-is-long-enough-for-hs256",
    )
    bad = client.post(
        url, json={"issued_on": "2026-01-01"}, headers={"Authorization": f"Bearer {forged}"}
    )
    assert bad.status_code == 401
    assert "Signature verification failed" in bad.json()["detail"]
    expired = bearer(ttl=timedelta(seconds=-120))
    assert client.post(url, json={"issued_on": "2026-01-01"}, headers=expired).status_code == 401
    unsigned = jwt.encode(
        {"sub": str(USER), "org": str(ORG), "exp": 9999999999}, "", algorithm="none"
    )
    none_alg = client.post(
        url, json={"issued_on": "2026-01-01"}, headers={"Authorization": f"Bearer {unsigned}"}
    )
    assert none_alg.status_code == 401


def test_a_token_of_another_organisation_sees_nothing() -> None:
    response = build_client().post(
        f"/organisations/{ORG}/credentials",
        json={"issued_on": "2026-01-01"},
        headers=bearer(org=OTHER_ORG),
    )
    assert response.status_code == 404
    assert response.json()["detail"] == f"no organisation {ORG}"


def test_validation_errors_name_each_field_by_path() -> None:
    response = build_client().post(
        f"/organisations/{ORG}/credentials",
        json={"issued_on": "01/02/2026", "expires_on": "2026-13-01"},
        headers=bearer(),
    )
    assert response.status_code == 422
    body = response.json()
    assert body["title"] == "Request is not valid"
    paths = {error["path"] for error in body["errors"]}
    assert paths == {"body.issued_on", "body.expires_on"}

    cross_field = build_client().post(
        f"/organisations/{ORG}/credentials",
        json={"issued_on": "2026-02-01", "expires_on": "2026-01-01"},
        headers=bearer(),
    )
    assert cross_field.status_code == 422
    assert "expires_on must be after issued_on" in cross_field.json()["errors"][0]["message"]


def test_domain_problems_keep_their_field_errors() -> None:
    response = build_client().post(
        f"/organisations/{ORG}/credentials", json={"issued_on": "1900-01-01"}, headers=bearer()
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"path": "body.issued_on", "message": "before 1950"}]


def test_concurrency_errors_are_409_problems_never_database_errors() -> None:
    response = build_client().post("/conflict")
    assert response.status_code == 409
    body = response.json()
    assert body["type"].endswith("/concurrency")
    assert body["expected_version"] == 3
    assert body["actual_version"] == 4


def test_unexpected_errors_do_not_leak_internals() -> None:
    response = build_client().get("/boom")
    assert response.status_code == 500
    assert "secret internals" not in response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_correlation_id_is_echoed_or_created() -> None:
    client = build_client()
    given = str(uuid7())
    assert (
        client.get("/health", headers={"X-Correlation-ID": given}).headers["X-Correlation-ID"]
        == given
    )
    created = client.get("/health").headers["X-Correlation-ID"]
    assert UUID(created).version == 7


def test_dev_tokens_use_the_configured_secret() -> None:
    token = issue_dev_token(USER, ORG, ["admin"], permissions=["users:manage"])
    claims = jwt.decode(token, DEV_SECRET, algorithms=["HS256"])
    assert claims["roles"] == ["admin"]
    assert claims["permissions"] == ["users:manage"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "another-secret-which-is-long-enough-for-hs256", algorithms=["HS256"])
