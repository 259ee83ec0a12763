"""Journey 6: reminders before and after expiry, with the manager copied, on the real clock;
CredentialExpired reaches an outside subscriber, and the views show the credential expired."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from credflow_contracts.events.credentials import CredentialExpired
from credflow_contracts.events.reminders import ReminderSent
from tests.e2e.journeys.conftest import Journeys
from tests.polling import eventually


async def test_reminders_before_and_after_expiry_and_credential_expired(
    journeys: Journeys,
) -> None:
    org = await journeys.organisation("Reminder Journey", default_date_format="YYYY-MM-DD")
    admin = org.admin
    today = datetime.now(UTC).date()
    first_aid = await org.post(
        "directory", "/credential-types", admin, name="First aid",
        validation_required=False, default_validity_months=36,
    )  # fmt: skip
    mia = await org.person("Mia Manager", ["manager"])
    wes = await org.person("Wes Worker", ["worker"], manager_id=mia.user_id)
    await org.accepted(
        "PUT", "reminder", "/users/me/notification-settings", wes, expect=200,
        json={"enabled": True, "lead_days": [30, 7, 1], "copy_manager": True},
    )  # fmt: skip

    soon, lapsed = today + timedelta(days=7), today - timedelta(days=1)
    for issued, expires in ((today - timedelta(days=300), soon),
                            (today - timedelta(days=400), lapsed)):  # fmt: skip
        await org.accepted(
            "POST", "submission", "/credentials", wes,
            json={"credential_type_id": first_aid["credential_type_id"],
                  "issued_on": str(issued), "expires_on": str(expires)},
        )  # fmt: skip

    # The 30-day stage of the first one passed before it was recorded: only the latest due
    # reminder goes out. The second expired yesterday: the notice after expiry.
    assert await org.mail_subjects(wes, 2) == [
        f"Your First aid expired on {lapsed}",
        f"Your First aid expires in 7 days ({soon})",
    ]
    assert await org.mail_subjects(mia, 2) == [
        f"Wes Worker's First aid expired on {lapsed}",
        f"Wes Worker's First aid expires in 7 days ({soon})",
    ]

    async def published() -> bool:
        return (
            len(journeys.subscriber.of(org.id, ReminderSent)) >= 4
            and len(journeys.subscriber.of(org.id, CredentialExpired)) >= 1
        )

    await eventually(published, timeout_s=30)
    [expired] = [
        e.event
        for e in journeys.subscriber.of(org.id, CredentialExpired)
        if isinstance(e.event, CredentialExpired)
    ]
    assert expired.expires_on == lapsed
    listed = await org.view("/credentials", admin, status="expired")
    assert [c["credential_id"] for c in listed["items"]] == [str(expired.credential_id)]
    soon_rows = await org.view("/credentials", wes, expiring_within_days=7)
    assert [c["expires_on"] for c in soon_rows["items"]] == [str(soon)]
    assert soon_rows["items"][0]["expiring_soon"] is True

    # Nothing is sent twice: a few more scheduler ticks (every 0.5 s here), the count stays.
    await asyncio.sleep(1.5)
    sent = len(journeys.subscriber.of(org.id, ReminderSent))
    assert sent == 4, "holder and manager, for each of the two credentials"
    assert len(await org.mails_to(wes)) == 2
