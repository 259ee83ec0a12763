"""Credential statuses, the expiring-soon flag and worker compliance."""

from __future__ import annotations

from datetime import date

import pytest

from credflow_contracts.ids import uuid7
from credflow_projection.status import (
    CredentialFacts,
    Requirement,
    Worker,
    compliance,
    expiring_soon,
    required_types,
    status,
)

TODAY = date(2026, 11, 22)
LICENCE, FIRST_AID, WHITE_CARD = uuid7(), uuid7(), uuid7()


def facts(
    review: str = "verified",
    expires_on: date | None = date(2027, 6, 1),
    lifecycle: str = "active",
    type_id: object = LICENCE,
) -> CredentialFacts:
    return CredentialFacts(type_id, lifecycle, review, expires_on)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("credential", "expected"),
    [
        (facts("verified"), "verified"),
        (facts("submitted"), "submitted"),
        (facts("pending"), "pending"),
        (facts("not_accepted"), "not_accepted"),
        (facts("verified", date(2026, 11, 21)), "expired"),
        (facts("submitted", date(2026, 11, 21)), "expired"),
        (facts("verified", date(2026, 11, 22)), "verified"),  # expires at the end of its day
        (facts("pending", date(2026, 1, 1)), "pending"),
        (facts("verified", date(2020, 1, 1), "revoked"), "revoked"),
        (facts("verified", None, "suspended"), "suspended"),
        (facts("submitted", None), "submitted"),
    ],
)
def test_status(credential: CredentialFacts, expected: str) -> None:
    assert status(credential, TODAY) == expected


def test_expiring_soon_is_within_the_window_and_not_yet_expired() -> None:
    assert expiring_soon(facts(expires_on=date(2026, 12, 22)), TODAY, 30)
    assert not expiring_soon(facts(expires_on=date(2026, 12, 23)), TODAY, 30)
    assert not expiring_soon(facts(expires_on=date(2026, 11, 21)), TODAY, 30)
    assert not expiring_soon(facts(expires_on=None), TODAY, 30)


def test_requirements_apply_by_scope_and_assessment() -> None:
    company, group, other = uuid7(), uuid7(), uuid7()
    requirements = [
        Requirement(WHITE_CARD, "all_workers"),
        Requirement(FIRST_AID, "company", company_id=company),
        Requirement(uuid7(), "company", company_id=other),
        Requirement(LICENCE, "group", group_id=group),
    ]
    assert required_types(Worker(company, frozenset()), requirements) == {WHITE_CARD, FIRST_AID}
    assert required_types(Worker(None, frozenset({group})), requirements) == {WHITE_CARD, LICENCE}
    drives = Worker(None, frozenset(), assessed_type_ids=frozenset({LICENCE}))
    assert required_types(drives, requirements) == {WHITE_CARD, LICENCE}


def test_compliance_needs_every_required_type_verified_or_submitted_and_current() -> None:
    required = {LICENCE, FIRST_AID, WHITE_CARD}
    good = [
        facts("verified"),
        facts("submitted", None, type_id=WHITE_CARD),
        facts("verified", type_id=FIRST_AID),
    ]
    assert compliance(required, good, TODAY).compliant

    expired = [*good[:2], facts("verified", date(2026, 1, 1), type_id=FIRST_AID)]
    result = compliance(required, expired, TODAY)
    assert not result.compliant
    assert result.not_met == {FIRST_AID}

    result = compliance(required, good[:2], TODAY)
    assert result.missing == {FIRST_AID}, "a `required` row"
    pending = compliance({LICENCE}, [facts("pending")], TODAY)
    assert (pending.compliant, pending.not_met) == (False, frozenset({LICENCE}))


def test_an_external_certificate_counts_as_its_internal_equivalent() -> None:
    external, internal = uuid7(), uuid7()
    result = compliance(
        {internal}, [facts("verified", type_id=external)], TODAY, {external: internal}
    )
    assert result.compliant
