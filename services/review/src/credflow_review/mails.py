"""The mails a review's events send: a review request to its reviewers (alone, in the hourly
digest, or in one mail per import), a decision to the holder."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid5

from credflow_common import mail
from credflow_common.directory_replica import DirectoryReplica
from credflow_contracts.events.base import Event
from credflow_contracts.events.credentials import (
    CredentialRejected,
    CredentialValidated,
    ReviewClaimed,
    ReviewRequested,
)
from credflow_contracts.events.directory import OrganisationSettings
from credflow_review.domain import Review
from credflow_review.store import REVIEW_NAMESPACE, Conn

IMPORT_MAIL_DELAY = timedelta(minutes=2)


class ReviewMails:
    def __init__(self, replica: DirectoryReplica, import_mail_delay: timedelta) -> None:
        self.replica = replica
        self.import_mail_delay = import_mail_delay

    async def of(
        self, conn: Conn, events: Sequence[Event], review: Review | None
    ) -> list[mail.Mail]:
        found: list[mail.Mail] = []
        for event in events:
            match event:
                case ReviewRequested():
                    found += await self._to_reviewers(conn, event)
                case CredentialValidated() | CredentialRejected():
                    assert review is not None
                    found += await self._to_holder(conn, event, review)
                case ReviewClaimed():
                    pass
        return found

    async def _type_name(self, conn: Conn, org: UUID, type_id: UUID) -> str:
        credential_type = await self.replica.credential_type(conn, org, type_id)
        return credential_type.name if credential_type else "credential"

    async def _to_reviewers(self, conn: Conn, event: ReviewRequested) -> list[mail.Mail]:
        org = event.organisation_id
        settings = await self.replica.settings(conn, org)
        holder = await self.replica.user(conn, org, event.holder_id)
        type_name = await self._type_name(conn, org, event.credential_type_id)
        digest_key, deliver_after = _mail_grouping(event, settings, self.import_mail_delay)
        mails = []
        for reviewer_id in event.reviewer_ids:
            reviewer = await self.replica.user(conn, org, reviewer_id)
            if reviewer is None:
                continue
            mails.append(mail.Mail(
                org,
                reviewer.email,
                f"Review needed: {type_name} of {holder.name if holder else 'a worker'}",
                f"{holder.name if holder else 'A worker'} submitted a {type_name} "
                f"(version {event.version_number}). Review item {event.review_id}.",
                digest_key=digest_key,
                deliver_after=deliver_after,
                mail_id=uuid5(
                    REVIEW_NAMESPACE,
                    f"request:{event.review_id}:{reviewer_id}:"
                    f"{','.join(map(str, event.reviewer_ids))}",
                ),
                people=(reviewer_id, event.holder_id),
            ))  # fmt: skip
        return mails

    async def _to_holder(
        self, conn: Conn, event: CredentialValidated | CredentialRejected, review: Review
    ) -> list[mail.Mail]:
        org = event.organisation_id
        holder = await self.replica.user(conn, org, review.holder_id)
        if holder is None:
            return []
        type_name = await self._type_name(conn, org, review.credential_type_id)
        if isinstance(event, CredentialValidated):
            subject, body = (
                f"Your {type_name} was verified",
                f"Your {type_name} (version {review.version_number}) was verified."
                + (f"\n\nComment: {event.comment}" if event.comment else ""),
            )
        else:
            subject, body = (
                f"Your {type_name} was not accepted",
                f"Your {type_name} (version {review.version_number}) was not "
                f"accepted.\n\nReason: {event.comment}\n\nPlease add a new version.",
            )
        return [
            mail.Mail(
                org,
                holder.email,
                subject,
                body,
                mail_id=uuid5(REVIEW_NAMESPACE, f"decision:{event.review_id}"),
                people=(review.holder_id,),
            )
        ]


def _mail_grouping(
    event: ReviewRequested, settings: OrganisationSettings | None, import_delay: timedelta
) -> tuple[str | None, datetime | None]:
    """How a review request is mailed: alone at once; in the organisation's hourly digest; or,
    for a row of a bulk import, in one mail per reviewer for the whole import, sent a little
    after its items arrive (twenty thousand rows must not mean twenty thousand mails)."""
    now = datetime.now(UTC)
    if event.import_id is not None:
        return f"import-{event.import_id}", now + import_delay
    if settings is not None and settings.review_notifications == "digest":
        return "review-digest", now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return None, None
