"""How each credential event changes what the views store about credentials (`rows.py`).

Pure functions over plain rows: `apply(views, envelope)` folds one credential event into the
rows of the credentials it touches. The projector loads those rows for a whole batch, folds
every event of the batch in memory, and writes back what changed (see `projector.py`), which
is where the speed of a batch comes from.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from credflow_contracts.envelope import Envelope
from credflow_contracts.events.base import Event
from credflow_contracts.events.credentials import (
    CredentialAccepted,
    CredentialDeleted,
    CredentialEvent,
    CredentialExpired,
    CredentialReinstated,
    CredentialRejected,
    CredentialRevoked,
    CredentialSubmitted,
    CredentialSuspended,
    CredentialValidated,
    CredentialVersionEdited,
    MediaAttached,
    MediaRemoved,
    ReviewClaimed,
    ReviewReleased,
    ReviewRequested,
    VersionAdded,
)
from credflow_contracts.events.reminders import ReminderSent
from credflow_projection.rows import (
    AuditRow,
    CredentialRow,
    MediaRow,
    ReviewItemRow,
    VersionRow,
    Views,
)

ACTOR_FIELDS = (
    "submitted_by", "added_by", "edited_by", "attached_by", "removed_by", "deleted_by",
    "revoked_by", "suspended_by", "reinstated_by", "claimed_by", "released_by",
    "validated_by", "rejected_by",
)  # fmt: skip
AUDIT_OMITS = {"organisation_id", "credential_id", "version_id", "import_id", *ACTOR_FIELDS}
# The audit's `detail` keeps what an entry says beyond its columns and the other rows: the words
# people wrote (reason, note, comment), what an edit changed, review edits, a reminder's kind.
# What the credential, version, media and review item rows already hold is not stored twice.
ON_THE_CREDENTIAL = {"holder_id", "credential_type_id"}
VERSION_CONTENT = {"title", "issued_on", "expires_on", "certification", "issuer", "notes", "media"}
REVIEW_ROUTING = {"routing", "reviewer_ids", "reviewer_group_id"}


def action_of(event: Event) -> str:
    """`credflow.credential.version_added` → `version_added`; `credflow.reminder.sent` →
    `reminder_sent`."""
    prefix, _, name = event.TYPE.rpartition(".")
    return name if prefix == "credflow.credential" else f"{prefix.rpartition('.')[2]}_{name}"


@functools.cache
def _actor_field(event_type: type[Event]) -> str | None:
    if event_type is ReviewRequested:
        return None  # the review service asks; its `submitted_by` is the version's submitter
    return next((name for name in ACTOR_FIELDS if name in event_type.model_fields), None)


@functools.cache
def _audit_omits(event_type: type[Event]) -> set[str]:
    omits = AUDIT_OMITS | ON_THE_CREDENTIAL
    if event_type in (CredentialSubmitted, VersionAdded):
        omits |= VERSION_CONTENT
    if event_type is ReviewRequested:
        omits |= REVIEW_ROUTING
    return omits


def audit_row(envelope: Envelope, event: CredentialEvent | ReminderSent) -> AuditRow:
    actor_field = _actor_field(type(event))
    values = event.__dict__  # the model's field values
    return AuditRow(
        event_id=envelope.id,
        organisation_id=event.organisation_id,
        credential_id=event.credential_id,
        occurred_at=envelope.time,
        action=action_of(event),
        actor_id=values[actor_field] if actor_field else None,
        version_id=values.get("version_id"),
        import_id=values.get("import_id"),
        detail=event.model_dump_json(exclude=_audit_omits(type(event)), exclude_none=True),
    )


def apply(views: Views, envelope: Envelope) -> None:
    """Fold one credential (or reminder) event into `views`."""
    event = envelope.event
    if not isinstance(event, CredentialEvent | ReminderSent):
        return
    views.audit.append(audit_row(envelope, event))
    at = envelope.time
    match event:
        case CredentialSubmitted() | VersionAdded():
            _new_version(views, event, at)
        case CredentialVersionEdited():
            version = views.versions.get(event.version_id)
            if version is None:
                return
            for name in ("issued_on", "expires_on", "notes"):
                if name in event.changed:
                    setattr(version, name, getattr(event, name))
            if "certification" in event.changed:
                version.certification = _json(event.certification)
                version.certification_number = (
                    event.certification.number if event.certification else None
                )
            if "issuer" in event.changed:
                version.issuer = _json(event.issuer)
            if version.review != "submitted":  # reviewed versions are reviewed again
                version.review = "pending"
            views.touch(version.version_id)
            _close_open_items(views, event.credential_id, "superseded")
            _sync(views, event.credential_id, at)
        case MediaAttached():
            media = event.media
            views.media[media.media_id] = MediaRow(
                media.media_id, event.credential_id, event.version_id, event.organisation_id,
                media.file_name, media.kind, media.content_type, media.size_bytes, media.sha256,
                event.attached_by, at,
            )  # fmt: skip
            views.touch(media.media_id)
        case MediaRemoved():
            views.media.pop(event.media_id, None)
            views.drop(MediaRow, event.media_id)
        case CredentialDeleted():
            _delete(views, event.credential_id)
        case CredentialRevoked() | CredentialSuspended() | CredentialReinstated():
            credential = views.credentials.get(event.credential_id)
            if credential is None:
                return
            match event:
                case CredentialRevoked():
                    credential.lifecycle, credential.lifecycle_reason = "revoked", event.reason
                case CredentialSuspended():
                    credential.lifecycle, credential.lifecycle_reason = "suspended", event.reason
                case CredentialReinstated():
                    credential.lifecycle, credential.lifecycle_reason = "active", None
            credential.updated_at = at
            views.touch(credential.credential_id)
        case ReviewRequested():
            views.add_item(ReviewItemRow(
                event.review_id, event.organisation_id, event.credential_id, event.version_id,
                event.version_number, event.holder_id, event.credential_type_id, event.routing,
                list(event.reviewer_ids), event.import_id, at, "open",
            ))  # fmt: skip
            version = views.versions.get(event.version_id)
            if version is None or version.review != "pending":
                _set_review(views, event.credential_id, event.version_id, "pending", at)
            # else the version and its credential stay as they are, unwritten: a new
            # submission's review changes nothing on them (half the rows of a bulk import)
        case ReviewClaimed():
            item = views.review_items.get(event.review_id)
            if item is not None:
                item.claimed_by, item.claimed_at = event.claimed_by, at
                views.touch(item.review_id)
        case ReviewReleased():
            item = views.review_items.get(event.review_id)
            if item is not None:
                item.claimed_by, item.claimed_at = None, None
                views.touch(item.review_id)
        case CredentialAccepted():
            _set_review(views, event.credential_id, event.version_id, "submitted", at)
        case CredentialValidated():
            _decide(views, event, "verified", at)
        case CredentialRejected():
            _decide(views, event, "not_accepted", at)
        case CredentialExpired() | ReminderSent():
            pass  # audit only: statuses follow the date at query time


def _new_version(views: Views, event: CredentialSubmitted | VersionAdded, at: datetime) -> None:
    by = event.submitted_by if isinstance(event, CredentialSubmitted) else event.added_by
    views.versions[event.version_id] = VersionRow(
        event.version_id, event.credential_id, event.organisation_id, event.version_number,
        event.issued_on, event.expires_on,
        event.certification.number if event.certification else None,
        _json(event.certification), _json(event.issuer), event.notes,
        "pending", None, None, None, by, at, event.import_id, event.title,
    )  # fmt: skip
    views.touch(event.version_id)
    for media in event.media:
        views.media[media.media_id] = MediaRow(
            media.media_id, event.credential_id, event.version_id, event.organisation_id,
            media.file_name, media.kind, media.content_type, media.size_bytes, media.sha256,
            by, at,
        )  # fmt: skip
        views.touch(media.media_id)
    credential = views.credentials.get(event.credential_id)
    if credential is None:
        credential = CredentialRow(
            event.organisation_id, event.credential_id, event.holder_id,
            event.credential_type_id, event.version_id, event.version_number, "pending",
            "active", None, None, None, None, None, None, event.import_id, at, at,
        )  # fmt: skip
        views.credentials[event.credential_id] = credential
    credential.latest_version_id = event.version_id
    credential.version_number = event.version_number
    _close_open_items(views, event.credential_id, "superseded")
    _sync(views, event.credential_id, at)


def _set_review(
    views: Views, credential_id: UUID, version_id: UUID, review: str, at: datetime
) -> None:
    version = views.versions.get(version_id)
    if version is None:
        return
    version.review = review
    if review != "pending":
        version.reviewed_at = at
    views.touch(version_id)
    _sync(views, credential_id, at)


def _decide(
    views: Views, event: CredentialValidated | CredentialRejected, review: str, at: datetime
) -> None:
    by = event.validated_by if isinstance(event, CredentialValidated) else event.rejected_by
    comment, edits = event.comment, event.edits
    version = views.versions.get(event.version_id)
    if version is not None:
        if edits is not None:
            for name in ("title", "issued_on", "expires_on", "certification_number"):
                if name in edits.changed:
                    setattr(version, name, getattr(edits, name))
        version.reviewed_by, version.review_comment = by, comment
    credential = views.credentials.get(event.credential_id)
    if (
        event.internal_equivalent_id is not None
        and credential is not None
        and credential.latest_version_id == event.version_id
    ):
        # Kept by the credential: a rejected version's association counts for the next one.
        credential.internal_equivalent_id = event.internal_equivalent_id
    item = views.review_items.get(event.review_id)
    if item is not None:
        item.state = "validated" if review == "verified" else "rejected"
        item.decided_by, item.decided_at, item.comment = by, at, comment
        views.touch(item.review_id)
    _set_review(views, event.credential_id, event.version_id, review, at)


def _sync(views: Views, credential_id: UUID, at: datetime) -> None:
    """Copy the latest version's facts onto the credential row."""
    credential = views.credentials.get(credential_id)
    if credential is None:
        return
    latest = views.versions.get(credential.latest_version_id)
    if latest is None:
        return
    credential.review = latest.review
    credential.title = latest.title
    credential.issued_on, credential.expires_on = latest.issued_on, latest.expires_on
    credential.certification_number = latest.certification_number
    credential.issuer_name = _issuer_name(latest.issuer)
    credential.updated_at = at
    views.touch(credential_id)


def _close_open_items(views: Views, credential_id: UUID, state: str) -> None:
    for review_id in views.items_of.get(credential_id, ()):
        item = views.review_items[review_id]
        if item.state == "open":
            item.state = state
            views.touch(item.review_id)


def _delete(views: Views, credential_id: UUID) -> None:
    views.credentials.pop(credential_id, None)
    views.drop(CredentialRow, credential_id)
    for key in [k for k, row in views.versions.items() if row.credential_id == credential_id]:
        del views.versions[key]
        views.drop(VersionRow, key)
    for key in [k for k, row in views.media.items() if row.credential_id == credential_id]:
        del views.media[key]
        views.drop(MediaRow, key)
    _close_open_items(views, credential_id, "cancelled")


def _json(value: Any) -> str | None:
    return value.model_dump_json() if value is not None else None


def _issuer_name(issuer_json: str | None) -> str | None:
    if issuer_json is None:
        return None
    name = json.loads(issuer_json).get("name")
    return name if isinstance(name, str) else None
