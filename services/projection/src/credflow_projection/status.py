"""Statuses and compliance, as pure functions of what the views store (PRODUCT.md, "Statuses").

A credential's status is worked out at query time from its latest version, so a credential
whose expiration date passed shows `expired` without any event having to say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal
from uuid import UUID

Review = Literal["pending", "verified", "submitted", "not_accepted"]
Lifecycle = Literal["active", "suspended", "revoked"]
Status = Literal[
    "pending",
    "verified",
    "submitted",
    "not_accepted",
    "expired",
    "required",
    "revoked",
    "suspended",
]


@dataclass(frozen=True)
class CredentialFacts:
    credential_type_id: UUID
    lifecycle: Lifecycle
    review: Review
    expires_on: date | None


def status(facts: CredentialFacts, today: date) -> Status:
    """Revoked and suspended win; an expired date wins over verified and submitted; otherwise
    the latest version's review outcome."""
    if facts.lifecycle != "active":
        return facts.lifecycle
    if (
        facts.expires_on is not None
        and facts.expires_on < today
        and facts.review in ("verified", "submitted")
    ):
        return "expired"
    return facts.review


def expiring_soon(facts: CredentialFacts, today: date, window_days: int) -> bool:
    """Expires within the organisation's window (and has not expired yet)."""
    if facts.expires_on is None or facts.lifecycle != "active":
        return False
    return today <= facts.expires_on <= today + timedelta(days=window_days)


@dataclass(frozen=True)
class Requirement:
    credential_type_id: UUID
    scope: Literal["all_workers", "company", "group"]
    company_id: UUID | None = None
    group_id: UUID | None = None


@dataclass(frozen=True)
class Worker:
    company_id: UUID | None
    group_ids: frozenset[UUID]
    # credential types that yes-answers to assessments add, e.g. "drives a company vehicle"
    assessed_type_ids: frozenset[UUID] = frozenset()


def required_types(worker: Worker, requirements: Iterable[Requirement]) -> set[UUID]:
    """The credential types required of `worker`."""
    required = set(worker.assessed_type_ids)
    for requirement in requirements:
        if (
            requirement.scope == "all_workers"
            or (requirement.scope == "company" and requirement.company_id == worker.company_id)
            or (requirement.scope == "group" and requirement.group_id in worker.group_ids)
        ):
            required.add(requirement.credential_type_id)
    return required


MEETS: frozenset[Status] = frozenset({"verified", "submitted"})


@dataclass(frozen=True)
class Compliance:
    compliant: bool
    met: frozenset[UUID]
    missing: frozenset[UUID]  # required types with no credential at all: `required` rows
    not_met: frozenset[UUID]  # required types whose credentials are not good enough


def compliance(
    required: set[UUID],
    credentials: Sequence[CredentialFacts],
    today: date,
    equivalents: Mapping[UUID, UUID] | None = None,
) -> Compliance:
    """A worker is compliant when every required type is met by a credential that is verified
    (or submitted, where the type needs no validation) and not expired. `equivalents` maps a
    credential type to the internal template it counts as."""
    equivalents = equivalents or {}
    best: dict[UUID, set[Status]] = {}
    for facts in credentials:
        for type_id in {facts.credential_type_id, equivalents.get(facts.credential_type_id)}:
            if type_id is not None:
                best.setdefault(type_id, set()).add(status(facts, today))
    met = frozenset(t for t in required if best.get(t, set()) & MEETS)
    missing = frozenset(t for t in required if t not in best)
    not_met = frozenset(required - met - missing)
    return Compliance(not missing and not not_met, met, missing, not_met)
