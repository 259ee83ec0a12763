"""The projection's fold: given credential events, the rows the views store."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from uuid import UUID

from credflow_contracts.envelope import Envelope
from credflow_contracts.events.base import Event
from credflow_contracts.events.credentials import (
    CredentialDeleted,
    CredentialRejected,
    CredentialRevoked,
    CredentialSubmitted,
    CredentialSuspended,
    CredentialValidated,
    CredentialVersionEdited,
    MediaAttached,
    MediaRemoved,
    ReviewClaimed,
    ReviewRequested,
    VersionAdded,
)
from credflow_contracts.events.values import Certification, MediaFile, ReviewEdits
from credflow_contracts.ids import uuid7
from credflow_projection.model import apply
from credflow_projection.rows import CredentialRow, MediaRow, VersionRow, Views

ORG, CREDENTIAL, HOLDER, TYPE, REVIEWER = (uuid7() for _ in range(5))
V1, V2, REVIEW1, REVIEW2 = (uuid7() for _ in range(4))
AT = datetime(2026, 5, 1, 9, tzinfo=UTC)


def fold(*events: Event, views: Views | None = None) -> Views:
    views = views or Views()
    for event in events:
        apply(views, Envelope(event=event, source="/test", tenant_id=ORG, time=AT))
    return views


def submitted(**changes: object) -> CredentialSubmitted:
    return CredentialSubmitted(
        credential_id=CREDENTIAL, organisation_id=ORG, holder_id=HOLDER, credential_type_id=TYPE,
        version_id=V1, issued_on=date(2026, 1, 1), expires_on=date(2027, 1, 1),
        certification=Certification(number="A-1"), submitted_by=HOLDER, **changes,
    )  # fmt: skip


def requested(review_id: UUID = REVIEW1, version_id: UUID = V1, number: int = 1) -> Event:
    return ReviewRequested(
        credential_id=CREDENTIAL, organisation_id=ORG, review_id=review_id, version_id=version_id,
        version_number=number, holder_id=HOLDER, credential_type_id=TYPE, routing="managers",
        reviewer_ids=[REVIEWER],
    )  # fmt: skip


def validated(**changes: object) -> CredentialValidated:
    return CredentialValidated(
        credential_id=CREDENTIAL, organisation_id=ORG, review_id=REVIEW1, version_id=V1,
        validated_by=REVIEWER, **changes,
    )  # fmt: skip


def credential(views: Views) -> CredentialRow:
    return views.credentials[CREDENTIAL]


def test_a_submitted_credential_is_pending_until_validated_then_verified_with_edits() -> None:
    views = fold(submitted(), requested())
    assert credential(views).review == "pending"
    assert views.review_items[REVIEW1].state == "open"
    fold(
        ReviewClaimed(credential_id=CREDENTIAL, organisation_id=ORG, review_id=REVIEW1,
                      version_id=V1, claimed_by=REVIEWER),
        validated(edits=ReviewEdits(changed=["expires_on"], expires_on=date(2028, 2, 2))),
        views=views,
    )  # fmt: skip
    row = credential(views)
    assert (row.review, row.expires_on, row.certification_number) == (
        "verified",
        date(2028, 2, 2),
        "A-1",
    )
    item = views.review_items[REVIEW1]
    assert (item.state, item.claimed_by, item.decided_by) == ("validated", REVIEWER, REVIEWER)
    assert [a.action for a in views.audit] == [
        "submitted",
        "review_requested",
        "review_claimed",
        "validated",
    ]
    assert views.audit[0].actor_id == HOLDER
    assert views.audit[3].actor_id == REVIEWER


def test_opening_the_review_of_a_pending_version_rewrites_neither_it_nor_its_credential() -> None:
    views = fold(submitted())
    views.dirty.clear()  # as stored by the batch that submitted it
    later = Envelope(event=requested(), source="/test", tenant_id=ORG,
                     time=datetime(2026, 5, 1, 10, tzinfo=UTC))  # fmt: skip
    apply(views, later)
    assert views.dirty == {REVIEW1}  # the new queue item only
    assert (credential(views).review, credential(views).updated_at) == ("pending", AT)
    assert [a.action for a in views.audit] == ["submitted", "review_requested"]


def test_an_external_certificate_title_is_corrected_and_its_equivalent_outlives_a_rejection() -> (
    None
):
    equivalent = uuid7()
    views = fold(submitted(title="Heights course"), requested())
    assert (credential(views).title, views.versions[V1].title) == ("Heights course",) * 2
    fold(
        CredentialRejected(
            credential_id=CREDENTIAL, organisation_id=ORG, review_id=REVIEW1, version_id=V1,
            rejected_by=REVIEWER, comment="The certificate is cut off",
            edits=ReviewEdits(changed=["title", "issued_on"], title="Working at heights",
                              issued_on=date(2026, 1, 2)),
            internal_equivalent_id=equivalent,
        ),
        VersionAdded(
            credential_id=CREDENTIAL, organisation_id=ORG, holder_id=HOLDER,
            credential_type_id=TYPE, version_id=V2, version_number=2, title="Working at heights",
            issued_on=date(2026, 1, 2), added_by=HOLDER,
        ),
        views=views,
    )  # fmt: skip
    old = views.versions[V1]
    assert (old.title, old.issued_on, old.review) == (
        "Working at heights", date(2026, 1, 2), "not_accepted"
    )  # fmt: skip
    row = credential(views)
    assert (row.title, row.latest_version_id, row.internal_equivalent_id) == (
        "Working at heights", V2, equivalent
    )  # fmt: skip


def test_a_new_version_supersedes_the_open_review_and_keeps_the_old_version() -> None:
    views = fold(submitted(), requested())
    fold(
        VersionAdded(
            credential_id=CREDENTIAL, organisation_id=ORG, holder_id=HOLDER,
            credential_type_id=TYPE, version_id=V2, version_number=2,
            issued_on=date(2027, 1, 1), expires_on=date(2030, 1, 1), added_by=HOLDER,
        ),
        views=views,
    )  # fmt: skip
    assert views.review_items[REVIEW1].state == "superseded"
    assert (credential(views).latest_version_id, credential(views).expires_on) == (
        V2,
        date(2030, 1, 1),
    )
    assert set(views.versions) == {V1, V2}
    # A late decision on version 1 records its outcome but not the credential's status.
    fold(
        CredentialRejected(credential_id=CREDENTIAL, organisation_id=ORG, review_id=REVIEW1,
                           version_id=V1, rejected_by=REVIEWER, comment="blurred"),
        views=views,
    )  # fmt: skip
    assert views.versions[V1].review == "not_accepted"
    assert credential(views).review == "pending"


def test_editing_a_reviewed_version_sends_it_back_to_review() -> None:
    views = fold(submitted(), requested(), validated())
    fold(
        CredentialVersionEdited(
            credential_id=CREDENTIAL, organisation_id=ORG, version_id=V1, version_number=1,
            changed=["certification", "notes"], certification=Certification(number="B-2"),
            notes=None, edited_by=HOLDER,
        ),
        views=views,
    )  # fmt: skip
    assert (credential(views).review, credential(views).certification_number) == (
        "pending",
        "B-2",
    )


def test_media_suspension_and_deletion() -> None:
    media = MediaFile(media_id=uuid7(), file_name="card.png", kind="png",
                      content_type="image/png", size_bytes=10, sha256="0" * 64)  # fmt: skip
    views = fold(
        submitted(),
        MediaAttached(credential_id=CREDENTIAL, organisation_id=ORG, version_id=V1, media=media,
                      attached_by=HOLDER),
        CredentialSuspended(credential_id=CREDENTIAL, organisation_id=ORG, reason="audit",
                            suspended_by=REVIEWER),
    )  # fmt: skip
    assert isinstance(views.media[media.media_id], MediaRow)
    assert (credential(views).lifecycle, credential(views).lifecycle_reason) == (
        "suspended",
        "audit",
    )
    fold(
        MediaRemoved(credential_id=CREDENTIAL, organisation_id=ORG, version_id=V1,
                     media_id=media.media_id, removed_by=HOLDER),
        views=views,
    )  # fmt: skip
    assert views.media == {}
    assert views.deleted["credential_media"] == {media.media_id}

    fold(requested(), views=views)
    fold(
        CredentialDeleted(credential_id=CREDENTIAL, organisation_id=ORG, holder_id=HOLDER,
                          deleted_by=HOLDER),
        views=views,
    )  # fmt: skip
    assert (views.credentials, views.versions) == ({}, {})
    assert views.deleted[VersionRow.TABLE] == {V1}
    assert views.review_items[REVIEW1].state == "cancelled"
    assert views.audit[-1].action == "deleted", "the audit trail outlives the credential"


def test_the_audit_keeps_what_people_wrote_not_what_the_version_rows_already_hold() -> None:
    views = fold(
        submitted(notes="front and back", media=[MediaFile(
            media_id=uuid7(), file_name="a.pdf", kind="pdf", content_type="application/pdf",
            size_bytes=10, sha256="0" * 64)]),
        requested(),
        validated(comment="Checked with the issuer."),
        CredentialRevoked(credential_id=CREDENTIAL, organisation_id=ORG, reason="Fake issuer",
                          revoked_by=REVIEWER),
    )  # fmt: skip
    submission, request, validation, revocation = (json.loads(a.detail) for a in views.audit)
    assert submission == {"version_number": 1}, "the version row holds its content"
    assert views.versions[V1].notes == "front and back"
    assert request == {"review_id": str(REVIEW1), "version_number": 1}
    assert validation["comment"] == "Checked with the issuer."
    assert revocation == {"reason": "Fake issuer"}
