"""The development SMTP sink starts fast however much mail earlier runs left in its Maildir."""

from __future__ import annotations

import mailbox
import os
import time
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from tests.launcher import LOCAL, load_launcher

sink = load_launcher("credflow_smtp_sink_under_test", LOCAL / "smtp_sink.py")


def deliver(maildir: mailbox.Maildir, to: str, age: timedelta) -> str:
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = f"for {to}"
    key = maildir.add(mailbox.MaildirMessage(message))
    stamp = time.time() - age.total_seconds()
    for folder in ("new", "cur"):
        for path in (Path(maildir._path) / folder).glob(f"{key}*"):
            os.utime(path, (stamp, stamp))
    return key


def test_old_mail_and_mail_beyond_the_cap_are_dropped_and_the_rest_is_searchable(
    tmp_path: Path,
) -> None:
    maildir = mailbox.Maildir(tmp_path / "mail", create=True)
    deliver(maildir, "stale@example.com", age=timedelta(days=2))
    for n in range(5):
        deliver(maildir, f"r{n}@example.com", age=timedelta(minutes=10 - n))

    index = sink.Index(tmp_path / "mail", keep=timedelta(days=1), cap=3)

    kept = {m["To"][0]["Address"] for m in index.newest_first()}
    assert kept == {"r2@example.com", "r3@example.com", "r4@example.com"}
    assert len(mailbox.Maildir(tmp_path / "mail").keys()) == 3
