"""Read-your-writes counts an event older than the inbox's window as applied (its id may have
been pruned); any other id is looked up, whatever it looks like."""

from __future__ import annotations

import time
from datetime import timedelta
from uuid import UUID, uuid4

from credflow_common.inbox import INBOX_RETENTION, older_than_retention
from credflow_contracts.ids import uuid7


def minted_ago(age: timedelta) -> UUID:
    return uuid7(int((time.time() - age.total_seconds()) * 1000))


def test_an_event_id_older_than_the_window_counts_as_applied() -> None:
    assert older_than_retention(minted_ago(INBOX_RETENTION + timedelta(minutes=1)))
    assert not older_than_retention(minted_ago(INBOX_RETENTION - timedelta(minutes=1)))
    assert not older_than_retention(uuid7())


def test_ids_that_are_not_uuid7_are_never_taken_for_old_ones() -> None:
    for event_id in (uuid4(), UUID("f2c07684-3ed7-2635-a815-07258fa77d67"), UUID(int=2**128 - 1),
                     UUID(int=0)):  # fmt: skip
        assert not older_than_retention(event_id)
