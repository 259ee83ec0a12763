"""A development SMTP sink: accepts every mail on loopback and lets tests read it back.

Mail is stored in a Maildir (so it survives a restart of the sink) and exposed through a small
subset of Mailpit's HTTP API, the same API docker-compose's Mailpit serves, so tests read mail
the same way whichever stack runs:

    GET    /api/v1/messages?limit=&start=   -> {"total": n, "messages": [summary, ...]} newest first
    GET    /api/v1/search?query=to:ADDRESS  -> the same, only mail to ADDRESS (or subject:TEXT)
    GET    /api/v1/message/{ID}             -> summary plus "Text", "HTML" and "Headers"
    DELETE /api/v1/messages                 -> delete every message
    GET    /livez                           -> 200 while the sink runs
"""

from __future__ import annotations

import argparse
import contextlib
import mailbox
import os
import threading
import time
from datetime import timedelta
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


class Index:
    """Summaries of every stored message, kept in memory beside the Maildir.

    Start-up must stay fast however much mail earlier runs left behind: old mail is pruned by
    file time (a `stat`, no parsing), at most `cap` messages are kept, and the survivors are
    indexed in a background thread while the sink already accepts mail.
    """

    def __init__(self, root: Path, keep: timedelta = timedelta(days=1), cap: int = 5000) -> None:
        self.maildir = mailbox.Maildir(root, create=True)
        self.lock = threading.Lock()
        self.summaries: dict[str, dict[str, Any]] = {}
        self.ready = threading.Event()
        survivors = prune(root, keep, cap)
        threading.Thread(target=self._load, args=(survivors,), daemon=True).start()

    def _load(self, files: list[tuple[str, Path]]) -> None:
        for key, path in files:
            with contextlib.suppress(FileNotFoundError):  # deleted through the API meanwhile
                info = summary(key, path.read_bytes(), headers_only=True)[0]
                with self.lock:
                    self.summaries.setdefault(key, info)
        self.ready.set()

    def add(self, key: str, raw: bytes) -> None:
        self.summaries[key] = summary(key, raw)[0]

    def newest_first(self) -> list[dict[str, Any]]:
        self.ready.wait(timeout=60)
        with self.lock:
            items = list(self.summaries.values())
        return sorted(items, key=lambda m: (m["Created"] or "", m["ID"]), reverse=True)


def prune(root: Path, keep: timedelta, cap: int) -> list[tuple[str, Path]]:
    """Delete mail older than `keep` and all but the newest `cap`; return the rest."""
    files = [
        (entry.stat().st_mtime, entry.name.split(":")[0], Path(entry.path))
        for folder in ("new", "cur")
        if (root / folder).is_dir()
        for entry in os.scandir(root / folder)
        if entry.is_file()
    ]
    files.sort(reverse=True)
    oldest = time.time() - keep.total_seconds()
    kept = [(key, path) for mtime, key, path in files[:cap] if mtime >= oldest]
    for _, _, path in files[len(kept) :]:
        path.unlink(missing_ok=True)
    return kept


class MaildirHandler:
    def __init__(self, index: Index) -> None:
        self.maildir = index.maildir
        self.index = index
        self.lock = index.lock

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        content = envelope.original_content or b""
        message = mailbox.MaildirMessage(content)
        message["X-Envelope-From"] = str(envelope.mail_from)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self.lock:
            key = self.maildir.add(message)
            self.index.add(key, bytes(message))
        return "250 Message accepted for delivery"


def addresses(values: list[str]) -> list[dict[str, str]]:
    return [{"Name": name, "Address": address} for name, address in getaddresses(values)]


def summary(
    key: str, raw: bytes, headers_only: bool = False
) -> tuple[dict[str, Any], EmailMessage]:
    parsed = BytesParser(policy=policy.default).parsebytes(raw, headersonly=headers_only)
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


def create_api(index: Index) -> FastAPI:
    api = FastAPI(title="credflow SMTP sink")
    maildir, lock = index.maildir, index.lock

    def page(items: list[dict[str, Any]], limit: int, start: int) -> dict[str, Any]:
        return {
            "total": len(items),
            "count": len(items[start : start + limit]),
            "start": start,
            "messages": items[start : start + limit],
        }

    @api.get("/livez")
    def livez() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/api/v1/messages")
    def list_messages(limit: int = 50, start: int = 0) -> dict[str, Any]:
        return page(index.newest_first(), limit, start)

    @api.get("/api/v1/search")
    def search(query: str, limit: int = 50, start: int = 0) -> dict[str, Any]:
        field, _, wanted = query.partition(":")
        wanted = wanted.strip().strip('"').lower()
        if field == "to":
            found = [
                m
                for m in index.newest_first()
                if any(t["Address"].lower() == wanted for t in m["To"])
            ]
        elif field == "subject":
            found = [m for m in index.newest_first() if wanted in m["Subject"].lower()]
        else:
            raise HTTPException(400, "query must be to:ADDRESS or subject:TEXT")
        return page(found, limit, start)

    @api.get("/api/v1/message/{key}")
    def get_message(key: str) -> dict[str, Any]:
        try:
            with lock:
                raw = maildir.get_bytes(key)
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
        index.ready.wait(timeout=60)
        with lock:
            keys = maildir.keys()
            for key in keys:
                maildir.remove(key)
            index.summaries.clear()
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
    index = Index(args.maildir)
    controller = Controller(MaildirHandler(index), hostname=args.host, port=args.smtp_port)
    controller.start()
    try:
        uvicorn.run(create_api(index), host=args.host, port=args.http_port, log_level="warning")
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
