"""A development SMTP sink: accepts every mail on loopback and lets tests read it back.

Mail is stored in a Maildir (so it survives a restart of the sink) and exposed through a small
subset of Mailpit's HTTP API, the same API docker-compose's Mailpit serves, so tests read mail
the same way whichever stack runs:

    GET    /api/v1/messages          -> {"total": n, "messages": [summary, ...]}  newest first
    GET    /api/v1/message/{ID}      -> summary plus "Text", "HTML" and "Headers"
    DELETE /api/v1/messages          -> delete every message
"""

from __future__ import annotations

import argparse
import mailbox
import threading
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI, HTTPException


class MaildirHandler:
    def __init__(self, maildir: mailbox.Maildir, lock: threading.Lock) -> None:
        self.maildir = maildir
        self.lock = lock

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        content = envelope.original_content or b""
        message = mailbox.MaildirMessage(content)
        message["X-Envelope-From"] = str(envelope.mail_from)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self.lock:
            self.maildir.add(message)
        return "250 Message accepted for delivery"


def addresses(values: list[str]) -> list[dict[str, str]]:
    return [{"Name": name, "Address": address} for name, address in getaddresses(values)]


def summary(key: str, raw: bytes) -> tuple[dict[str, Any], EmailMessage]:
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    date = parsed.get("Date")
    sender = addresses([str(parsed.get("From", ""))])
    return (
        {
            "ID": key,
            "MessageID": str(parsed.get("Message-ID", "")),
            "From": sender[0] if sender else {"Name": "", "Address": ""},
            "To": addresses([str(v) for v in parsed.get_all("To", [])]),
            "Cc": addresses([str(v) for v in parsed.get_all("Cc", [])]),
            "Subject": str(parsed.get("Subject", "")),
            "Created": parsedate_to_datetime(str(date)).isoformat() if date else None,
            "Size": len(raw),
        },
        parsed,
    )


def create_api(maildir: mailbox.Maildir, lock: threading.Lock) -> FastAPI:
    api = FastAPI(title="credflow SMTP sink")

    def load(key: str) -> bytes:
        with lock:
            return maildir.get_bytes(key)

    def keys_newest_first() -> list[str]:
        with lock:
            maildir.clean()
            keys = maildir.keys()
            return sorted(keys, key=lambda k: maildir.get_message(k).get_date(), reverse=True)

    @api.get("/api/v1/messages")
    def list_messages() -> dict[str, Any]:
        messages = [summary(key, load(key))[0] for key in keys_newest_first()]
        return {"total": len(messages), "messages": messages}

    @api.get("/api/v1/message/{key}")
    def get_message(key: str) -> dict[str, Any]:
        try:
            raw = load(key)
        except KeyError:
            raise HTTPException(404, f"no message {key}") from None
        info, parsed = summary(key, raw)
        text = parsed.get_body(preferencelist=("plain",))
        html = parsed.get_body(preferencelist=("html",))
        info["Text"] = text.get_content() if text is not None else ""
        info["HTML"] = html.get_content() if html is not None else ""
        info["Headers"] = {k: [str(v) for v in parsed.get_all(k, [])] for k in parsed}
        return info

    @api.delete("/api/v1/messages")
    def delete_all() -> dict[str, int]:
        with lock:
            keys = maildir.keys()
            for key in keys:
                maildir.remove(key)
        return {"deleted": len(keys)}

    return api


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=11025)
    parser.add_argument("--http-port", type=int, default=18025)
    parser.add_argument("--maildir", type=Path, required=True)
    args = parser.parse_args()

    args.maildir.parent.mkdir(parents=True, exist_ok=True)
    maildir = mailbox.Maildir(args.maildir, create=True)
    lock = threading.Lock()
    controller = Controller(MaildirHandler(maildir, lock), hostname=args.host, port=args.smtp_port)
    controller.start()
    try:
        uvicorn.run(
            create_api(maildir, lock), host=args.host, port=args.http_port, log_level="warning"
        )
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
