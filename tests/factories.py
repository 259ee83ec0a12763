"""Builders of realistic events for tests."""

from __future__ import annotations

import random
from datetime import date, timedelta
from uuid import UUID

from credflow_contracts.events.credentials import CredentialSubmitted
from credflow_contracts.events.values import Certification, Issuer
from credflow_contracts.ids import uuid7

ORG = UUID("01900000-0000-7000-8000-00000000a001")


def credential_submitted(
    holder_id: UUID | None = None,
    credential_id: UUID | None = None,
    notes: str | None = None,
    organisation_id: UUID = ORG,
) -> CredentialSubmitted:
    issued = date(2025, 1, 1) + timedelta(days=random.randrange(365))
    return CredentialSubmitted(
        credential_id=credential_id or uuid7(),
        organisation_id=organisation_id,
        holder_id=holder_id or uuid7(),
        credential_type_id=UUID("01900000-0000-7000-8000-0000000000d1"),
        version_id=uuid7(),
        issued_on=issued,
        expires_on=issued + timedelta(days=365 * 3),
        issuer=Issuer(name="Transport for NSW", country="AU"),
        certification=Certification(number=f"DL-{random.randrange(10**8):08d}"),
        notes=notes,
        submitted_by=uuid7(),
    )
