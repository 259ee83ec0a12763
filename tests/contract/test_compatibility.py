"""The compatibility check catches every breaking change inside a major version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import pytest
from pydantic import Field

from credflow_contracts import generate
from credflow_contracts.compat import breaking_changes
from credflow_contracts.events.credentials import CredentialEvent, CredentialRevoked

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
PUBLISHED = json.loads((CONTRACTS / "schemas" / "credflow.credential.revoked.v1.json").read_text())


def schema_of(cls: type[CredentialEvent]) -> dict[str, Any]:
    return generate.event_schema(cls)


class RevokedSame(CredentialEvent):
    TYPE: ClassVar[str] = CredentialRevoked.TYPE
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = CredentialRevoked.DESCRIPTION
    reason: str = Field(min_length=1)
    revoked_by: UUID
    holder_id: UUID | None = None


class RevokedWithOptionalField(RevokedSame):
    revoked_by_ip: str | None = None


class RevokedFieldRemoved(CredentialEvent):
    TYPE: ClassVar[str] = CredentialRevoked.TYPE
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = ""
    revoked_by: UUID
    holder_id: UUID | None = None


class RevokedFieldRenamed(CredentialEvent):
    TYPE: ClassVar[str] = CredentialRevoked.TYPE
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = ""
    reason: str = Field(min_length=1)
    revoker_id: UUID
    holder_id: UUID | None = None


class RevokedTypeChanged(CredentialEvent):
    TYPE: ClassVar[str] = CredentialRevoked.TYPE
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = ""
    reason: str = Field(min_length=1)
    revoked_by: int
    holder_id: UUID | None = None


class RevokedNewRequiredField(RevokedSame):
    legal_basis: str


def test_the_current_model_is_compatible_with_what_we_published() -> None:
    assert breaking_changes(PUBLISHED, schema_of(CredentialRevoked)) == []
    assert breaking_changes(PUBLISHED, schema_of(RevokedSame)) == []


def test_adding_an_optional_field_is_allowed() -> None:
    assert breaking_changes(PUBLISHED, schema_of(RevokedWithOptionalField)) == []


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (RevokedFieldRemoved, "$.reason: field removed or renamed"),
        (RevokedFieldRenamed, "$.revoked_by: field removed or renamed"),
        (RevokedTypeChanged, "$.revoked_by: type changed"),
        (RevokedNewRequiredField, "$.legal_basis: new field is required"),
    ],
)
def test_breaking_changes_are_caught(variant: type[CredentialEvent], expected: str) -> None:
    problems = breaking_changes(PUBLISHED, schema_of(variant))
    assert any(p.startswith(expected) for p in problems), problems


def test_making_an_optional_field_required_is_caught() -> None:
    published = json.loads(
        (CONTRACTS / "schemas" / "credflow.credential.suspended.v1.json").read_text()
    )
    current = json.loads(json.dumps(published))
    current["required"].append("until")
    assert breaking_changes(published, current) == ["$.until: optional field made required"]


def test_nested_changes_are_caught() -> None:
    published = json.loads(
        (CONTRACTS / "schemas" / "credflow.credential.submitted.v2.json").read_text()
    )
    current = json.loads(json.dumps(published))
    del current["$defs"]["Issuer"]["properties"]["country"]
    current["$defs"]["MediaFile"]["properties"]["size_bytes"] = {"type": "string"}
    problems = breaking_changes(published, current)
    assert "$.issuer.country: field removed or renamed" in problems
    assert any(p.startswith("$.media[].size_bytes: type changed") for p in problems), problems


def test_narrowing_allowed_values_is_caught() -> None:
    published = json.loads(
        (CONTRACTS / "schemas" / "credflow.credential.review_requested.v1.json").read_text()
    )
    current = json.loads(json.dumps(published))
    current["properties"]["routing"]["enum"] = ["managers", "group_admins"]
    assert any("routing: type changed" in p for p in breaking_changes(published, current))


def test_generation_refuses_a_breaking_change(tmp_path: Path) -> None:
    root = tmp_path / "contracts"
    (root / "schemas").mkdir(parents=True)
    tightened = json.loads(json.dumps(PUBLISHED))
    del tightened["properties"]["revoked_by"]["format"]
    tightened["properties"]["revoked_by"]["type"] = "integer"
    (root / "schemas" / "credflow.credential.revoked.v1.json").write_text(json.dumps(tightened))
    (root / "README.md").write_text(f"{generate.CATALOGUE_START}\n{generate.CATALOGUE_END}\n")
    assert generate.main([str(root)]) == 1
    assert not (root / "asyncapi.json").exists(), "nothing is written after a breaking change"
