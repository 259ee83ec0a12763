"""Reminders and expiry as pure functions (PRODUCT.md, "Reminders and expiry").

- `Tracked` is what the schedule keeps of a credential (its latest version, expiry date and
  standing), built from credential events by `evolve`.
- A version expiring on day E owes a sequence of **stages**: one `before_expiry` reminder per
  lead day d (due on E - d, in the holder's time zone) and one `after_expiry` notice (due on
  E + 1: the expiration date is the last valid day, as in the views). `plan` decides, for one
  credential and "today", which stage to send now, which to skip, whether CredentialExpired is
  due (E has passed in the organisation's time zone) and when to look again.
- Catching up (the service was down, or a credential arrived already close to its expiry date)
  sends only the latest stage that is due; the older ones are recorded as skipped, so nobody
  gets a 30-day, a 7-day and a 1-day reminder in the same minute.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from credflow_contracts.dates import within_calendar
from credflow_contracts.events.base import Event
from credflow_contracts.events.credentials import (
    CredentialAccepted,
    CredentialDeleted,
    CredentialReinstated,
    CredentialRejected,
    CredentialRevoked,
    CredentialSubmitted,
    CredentialSuspended,
    CredentialValidated,
    CredentialVersionEdited,
    ReviewRequested,
    VersionAdded,
)

# The credential events `evolve` folds into a tracked credential.
TRACKED_EVENTS: tuple[type[Event], ...] = (
    CredentialSubmitted, VersionAdded, CredentialVersionEdited, CredentialValidated,
    CredentialAccepted, CredentialRejected, ReviewRequested, CredentialSuspended,
    CredentialReinstated, CredentialRevoked, CredentialDeleted,
)  # fmt: skip

DEFAULT_LEAD_DAYS = (30, 7, 1)
MAX_LEAD_DAYS = 365

Standing = Literal["active", "suspended", "revoked", "deleted"]
Review = Literal["pending", "accepted", "rejected"]
StageKind = Literal["before_expiry", "after_expiry"]
Role = Literal["holder", "manager"]


@dataclass(frozen=True)
class NotificationSettings:
    enabled: bool = True
    lead_days: tuple[int, ...] = DEFAULT_LEAD_DAYS
    copy_manager: bool = False


@dataclass(frozen=True)
class Tracked:
    credential_id: UUID
    organisation_id: UUID
    holder_id: UUID
    credential_type_id: UUID
    version_id: UUID
    expires_on: date | None
    standing: Standing = "active"
    review: Review = "pending"
    expired_version_id: UUID | None = None  # CredentialExpired was published for this version

    @property
    def owes_reminders(self) -> bool:
        """Rejected versions need a replacement, not a reminder; revoked, suspended and deleted
        credentials get nothing (a reinstated one picks up where it is)."""
        return self.standing == "active" and self.review != "rejected"

    @property
    def expiry_published(self) -> bool:
        return self.expired_version_id == self.version_id


def evolve(tracked: Tracked | None, event: Event) -> Tracked | None:
    """The schedule's view of a credential after `event` (events of other versions than the
    latest change nothing)."""
    match event:
        case CredentialSubmitted() | VersionAdded():
            return Tracked(
                credential_id=event.credential_id,
                organisation_id=event.organisation_id,
                holder_id=event.holder_id,
                credential_type_id=event.credential_type_id,
                version_id=event.version_id,
                expires_on=event.expires_on,
                standing=tracked.standing if tracked else "active",
                expired_version_id=tracked.expired_version_id if tracked else None,
            )
    if tracked is None:
        return None
    match event:
        case CredentialVersionEdited() if event.version_id == tracked.version_id:
            if "expires_on" in event.changed:
                return replace(tracked, expires_on=event.expires_on)
        case CredentialValidated() if event.version_id == tracked.version_id:
            edits = event.edits
            expires_on = (
                edits.expires_on if edits and "expires_on" in edits.changed else tracked.expires_on
            )
            return replace(tracked, review="accepted", expires_on=expires_on)
        case CredentialAccepted() if event.version_id == tracked.version_id:
            return replace(tracked, review="accepted")
        case CredentialRejected() if event.version_id == tracked.version_id:
            return replace(tracked, review="rejected")
        case ReviewRequested() if event.version_id == tracked.version_id:
            return replace(tracked, review="pending")
        case CredentialSuspended():
            return replace(tracked, standing="suspended")
        case CredentialReinstated():
            return replace(tracked, standing="active")
        case CredentialRevoked():
            return replace(tracked, standing="revoked")
        case CredentialDeleted():
            return replace(tracked, standing="deleted")
    return tracked


# -- stages -------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Stage:
    due_on: date
    kind: StageKind
    days_before_expiry: int | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.days_before_expiry or 0}"


def stages(expires_on: date, lead_days: Collection[int]) -> list[Stage]:
    """Every stage a version expiring on `expires_on` owes, in the order they fall due."""
    before = [
        Stage(expires_on - timedelta(days=days), "before_expiry", days)
        for days in sorted(set(lead_days), reverse=True)
    ]
    return [*before, Stage(expires_on + timedelta(days=1), "after_expiry")]


@dataclass(frozen=True)
class Plan:
    send: Stage | None = None
    skip: tuple[Stage, ...] = ()
    publish_expired: bool = False
    next_due_on: date | None = None


def plan(
    tracked: Tracked,
    lead_days: Collection[int],
    done: Collection[str],
    holder_today: date,
    organisation_today: date,
) -> Plan:
    """What is due for `tracked` today. `done`: keys of the stages already sent or skipped for
    this version and expiry date; `holder_today` / `organisation_today`: the date in the
    holder's and in the organisation's time zone."""
    if tracked.expires_on is None or not within_calendar(tracked.expires_on):
        return Plan()  # no expiry, or one recorded before every input kept to the calendar
    publish = (
        tracked.standing in ("active", "suspended")
        and not tracked.expiry_published
        and organisation_today > tracked.expires_on
    )
    owed = [s for s in stages(tracked.expires_on, lead_days) if s.key not in done]
    due = [s for s in owed if s.due_on <= holder_today] if tracked.owes_reminders else []
    later = [s.due_on for s in owed if s not in due] if tracked.owes_reminders else []
    if tracked.standing in ("active", "suspended") and not (tracked.expiry_published or publish):
        later.append(tracked.expires_on + timedelta(days=1))
    return Plan(
        send=due[-1] if due else None,
        skip=tuple(due[:-1]),
        publish_expired=publish,
        next_due_on=min(later, default=None),
    )


def first_due_on(tracked: Tracked, lead_days: Collection[int]) -> date | None:
    """When to look at a credential first (a new version, a new expiry date, new settings)."""
    return plan(tracked, lead_days, (), date.min, date.min).next_due_on


# -- recipients ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    user_id: UUID
    email: str
    name: str
    active: bool
    manager_id: UUID | None = None
    time_zone: str | None = None
    date_format: str | None = None


@dataclass(frozen=True)
class Recipient:
    person: Person
    role: Role


def recipients(
    stage: Stage, settings: NotificationSettings, holder: Person, manager: Person | None
) -> list[Recipient]:
    """The holder when they want reminders, their manager as a copy when they asked for it;
    after expiry the manager is told in any case (the escalation). Nobody writes to or about a
    deactivated holder."""
    if not holder.active:
        return []
    found = [Recipient(holder, "holder")] if settings.enabled else []
    escalate = stage.kind == "after_expiry" or (settings.enabled and settings.copy_manager)
    if manager is not None and manager.active and escalate:
        found.append(Recipient(manager, "manager"))
    return found


def reminder_id(tracked: Tracked, stage: Stage, role: Role) -> UUID:
    """One id per version, expiry date, stage and recipient role: the sent-ledger's key, the
    mail's id and ReminderSent's id, so the same reminder can never be recorded twice."""
    return uuid5(tracked.version_id, f"{tracked.expires_on}:{stage.key}:{role}")


# -- time ---------------------------------------------------------------------------------------


def today_in(time_zone: str | None, now: datetime, fallback: str = "UTC") -> date:
    return now.astimezone(ZoneInfo(time_zone or fallback)).date()


def latest_local_date(now: datetime) -> date:
    """No place on earth is further ahead than UTC+14: a bound for "due today somewhere"."""
    return (now + timedelta(hours=14)).date()


# -- mail ---------------------------------------------------------------------------------------

_FORMATS = {"DD/MM/YYYY": "%d/%m/%Y", "MM/DD/YYYY": "%m/%d/%Y", "YYYY-MM-DD": "%Y-%m-%d"}


def format_date(day: date, date_format: str | None) -> str:
    return day.strftime(_FORMATS.get(date_format or "", "%d/%m/%Y"))


@dataclass(frozen=True)
class MailText:
    subject: str
    body: str = field(repr=False)


def mail_text(
    stage: Stage,
    recipient: Recipient,
    holder: Person,
    type_name: str,
    *,
    expires_on: date,
    date_format: str | None,
    holder_today: date,
) -> MailText:
    when = format_date(expires_on, date_format)
    whose = "Your" if recipient.role == "holder" else f"{holder.name}'s"
    if stage.kind == "after_expiry":
        subject = f"{whose} {type_name} expired on {when}"
        action = (
            "Please upload the renewed credential."
            if recipient.role == "holder"
            else f"Please make sure {holder.name} renews it."
        )
    else:
        # The days actually left: a reminder caught up after downtime is later than its stage.
        days = max((expires_on - holder_today).days, 0)
        left = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        subject = f"{whose} {type_name} expires {left} ({when})"
        action = (
            "Please renew it and upload the new version in credflow."
            if recipient.role == "holder"
            else f"You are copied as {holder.name}'s manager."
        )
    body = f"Hello {recipient.person.name},\n\n{subject}.\n{action}\n\n-- credflow"
    return MailText(subject, body)


def valid_lead_days(lead_days: Sequence[int]) -> tuple[int, ...]:
    """Distinct, largest first; raises ValueError outside 0..MAX_LEAD_DAYS."""
    for days in lead_days:
        if not 0 <= days <= MAX_LEAD_DAYS:
            raise ValueError(f"lead days must be between 0 and {MAX_LEAD_DAYS}")
    return tuple(sorted(set(lead_days), reverse=True))
