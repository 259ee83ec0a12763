"""Reminder stages, catch-up, recipients and the schedule's view of credential events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from credflow_contracts.events.credentials import (
    CredentialDeleted,
    CredentialRejected,
    CredentialRevoked,
    CredentialSubmitted,
    CredentialSuspended,
    CredentialVersionEdited,
    VersionAdded,
)
from credflow_contracts.ids import uuid7
from credflow_reminder.domain import (
    NotificationSettings,
    Person,
    Plan,
    Tracked,
    evolve,
    first_due_on,
    mail_text,
    plan,
    recipients,
    reminder_id,
    stages,
    today_in,
    valid_lead_days,
)

EXPIRES = date(2026, 12, 31)
ORG, HOLDER, TYPE = uuid7(), uuid7(), uuid7()


def tracked(**changes: object) -> Tracked:
    base = Tracked(uuid7(), ORG, HOLDER, TYPE, uuid7(), EXPIRES, review="accepted")
    return Tracked(**{**base.__dict__, **changes})


def day(offset: int) -> date:
    return EXPIRES + timedelta(days=offset)


def walk(credential: Tracked, lead_days: tuple[int, ...], days: range) -> list[tuple[int, str]]:
    """Move the clock one day at a time, as the scheduler would: what is sent on which day."""
    done: set[str] = set()
    sent = []
    for offset in days:
        decided = plan(credential, lead_days, done, day(offset), day(offset))
        done |= {s.key for s in decided.skip}
        if decided.send:
            done.add(decided.send.key)
            sent.append((offset, decided.send.key))
    return sent


def test_reminders_fall_due_30_7_and_1_days_before_and_the_day_after_expiry() -> None:
    assert walk(tracked(), (30, 7, 1), range(-40, 5)) == [
        (-30, "before_expiry:30"),
        (-7, "before_expiry:7"),
        (-1, "before_expiry:1"),
        (1, "after_expiry:0"),
    ]


def test_catching_up_sends_only_the_latest_due_stage_and_skips_the_older_ones() -> None:
    decided = plan(tracked(), (30, 7, 1), set(), day(-5), day(-5))
    assert decided.send is not None
    assert decided.send.key == "before_expiry:7"
    assert [s.key for s in decided.skip] == ["before_expiry:30"]
    assert decided.next_due_on == day(-1)
    after = plan(tracked(), (30, 7, 1), set(), day(3), day(3))
    assert after.send is not None
    assert after.send.kind == "after_expiry"
    assert len(after.skip) == 3


def test_expiry_is_published_once_the_date_has_passed_in_the_organisations_time_zone() -> None:
    assert not plan(tracked(), (), set(), day(0), day(0)).publish_expired  # last valid day
    assert plan(tracked(), (), set(), day(1), day(1)).publish_expired
    published = tracked()
    published = Tracked(**{**published.__dict__, "expired_version_id": published.version_id})
    assert not plan(published, (), set(), day(1), day(1)).publish_expired
    assert plan(tracked(standing="suspended"), (), set(), day(1), day(1)).publish_expired


@pytest.mark.parametrize(
    "credential",
    [tracked(standing="revoked"), tracked(standing="deleted"), tracked(expires_on=None)],
)
def test_revoked_deleted_and_never_expiring_credentials_are_owed_nothing(
    credential: Tracked,
) -> None:
    assert plan(credential, (30,), set(), day(2), day(2)) == Plan()
    assert first_due_on(credential, (30,)) is None


def test_rejected_and_suspended_credentials_get_no_reminders() -> None:
    for credential in (tracked(review="rejected"), tracked(standing="suspended")):
        assert plan(credential, (30,), set(), day(-30), day(-30)).send is None


def test_first_due_on_is_the_earliest_stage() -> None:
    assert first_due_on(tracked(), (7, 30)) == day(-30)
    assert first_due_on(tracked(), ()) == day(1)


def test_recipients_follow_the_holders_settings_and_escalate_after_expiry() -> None:
    holder = Person(HOLDER, "h@x.test", "Holly", True)
    manager = Person(uuid7(), "m@x.test", "Max", True)
    before, after = stages(EXPIRES, (30,))

    def roles(settings: NotificationSettings, stage: object, who: Person = holder) -> list[str]:
        return [r.role for r in recipients(stage, settings, who, manager)]  # type: ignore[arg-type]

    assert roles(NotificationSettings(), before) == ["holder"]
    assert roles(NotificationSettings(copy_manager=True), before) == ["holder", "manager"]
    assert roles(NotificationSettings(enabled=False, copy_manager=True), before) == []
    assert roles(NotificationSettings(enabled=False), after) == ["manager"]
    assert roles(NotificationSettings(), after, Person(HOLDER, "h", "H", False)) == []


def test_credential_events_build_the_schedule() -> None:
    credential_id, v1, v2 = uuid7(), uuid7(), uuid7()
    submitted = CredentialSubmitted(
        credential_id=credential_id, organisation_id=ORG, holder_id=HOLDER,
        credential_type_id=TYPE, version_id=v1, issued_on=date(2026, 1, 1), expires_on=EXPIRES,
        submitted_by=HOLDER,
    )  # fmt: skip
    state = evolve(None, submitted)
    assert state is not None
    assert (state.version_id, state.expires_on) == (v1, EXPIRES)
    edited = evolve(state, CredentialVersionEdited(
        credential_id=credential_id, organisation_id=ORG, version_id=v1, version_number=1,
        changed=["expires_on"], expires_on=day(10), edited_by=HOLDER,
    ))  # fmt: skip
    assert edited is not None
    assert edited.expires_on == day(10)
    renewed = evolve(edited, VersionAdded(
        credential_id=credential_id, organisation_id=ORG, holder_id=HOLDER,
        credential_type_id=TYPE, version_id=v2, version_number=2, issued_on=day(0),
        expires_on=day(365), added_by=HOLDER,
    ))  # fmt: skip
    assert renewed is not None
    assert (renewed.version_id, renewed.expires_on) == (v2, day(365))
    stale = evolve(renewed, CredentialRejected(
        credential_id=credential_id, organisation_id=ORG, review_id=uuid7(), version_id=v1,
        rejected_by=HOLDER, comment="old version",
    ))  # fmt: skip
    assert stale == renewed, "decisions on older versions change nothing"
    for event, standing in (
        (CredentialSuspended(credential_id=credential_id, organisation_id=ORG, reason="r",
                             suspended_by=HOLDER), "suspended"),
        (CredentialRevoked(credential_id=credential_id, organisation_id=ORG, reason="r",
                           revoked_by=HOLDER), "revoked"),
        (CredentialDeleted(credential_id=credential_id, organisation_id=ORG, holder_id=HOLDER,
                           deleted_by=HOLDER), "deleted"),
    ):  # fmt: skip
        after = evolve(renewed, event)
        assert after is not None
        assert after.standing == standing


def test_reminder_ids_differ_per_version_expiry_stage_and_role() -> None:
    credential = tracked()
    stage = stages(EXPIRES, (30,))[0]
    ids = {
        reminder_id(credential, stage, "holder"),
        reminder_id(credential, stage, "manager"),
        reminder_id(tracked(version_id=uuid7()), stage, "holder"),
        reminder_id(Tracked(**{**credential.__dict__, "expires_on": day(1)}), stage, "holder"),
    }
    assert len(ids) == 4
    assert reminder_id(credential, stage, "holder") == reminder_id(credential, stage, "holder")


def test_dates_and_mail_text_in_the_recipients_terms() -> None:
    late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert today_in("Pacific/Auckland", late) == date(2027, 1, 1)
    assert today_in(None, late, fallback="America/New_York") == date(2026, 12, 31)
    holder = Person(HOLDER, "h@x.test", "Holly", True)
    manager = recipients(stages(EXPIRES, (7,))[0], NotificationSettings(copy_manager=True),
                         holder, Person(uuid7(), "m@x.test", "Max", True))[1]  # fmt: skip
    seven = stages(EXPIRES, (7,))[0]
    text = mail_text(seven, manager, holder, "First aid", expires_on=EXPIRES,
                     date_format="MM/DD/YYYY", holder_today=day(-7))  # fmt: skip
    assert text.subject == "Holly's First aid expires in 7 days (12/31/2026)"
    # Sent late (after downtime), it says how many days are actually left.
    late_text = mail_text(seven, manager, holder, "First aid", expires_on=EXPIRES,
                          date_format="MM/DD/YYYY", holder_today=day(-6))  # fmt: skip
    assert late_text.subject == "Holly's First aid expires in 6 days (12/31/2026)"
    with pytest.raises(ValueError, match="between 0 and 365"):
        valid_lead_days([30, 400])
    assert valid_lead_days([1, 30, 7, 30]) == (30, 7, 1)


@pytest.mark.parametrize("expires_on", [date(9999, 12, 31), date(1, 1, 1)])
def test_an_expiry_recorded_outside_the_calendar_plans_nothing_instead_of_overflowing(
    expires_on: date,
) -> None:
    """Inputs keep to 1900..2199 now; a version recorded before that rule must not crash the
    scheduler's arithmetic (a day past 9999-12-31 does not exist)."""
    credential = tracked(expires_on=expires_on)
    assert plan(credential, (30, 7, 1), (), date.max, date.max) == Plan()
    assert first_due_on(credential, (30, 7, 1)) is None
