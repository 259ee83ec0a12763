"""Rules every request input follows, in every service, before a handler sees it.

- Text holds no NUL character and no lone surrogate: PostgreSQL cannot store either, so such a
  value would fail deep inside a write. It is refused up front, naming the parameter or field.
- A JSON body is UTF-8 and nested at most `MAX_JSON_DEPTH` levels (a bomb of brackets would
  otherwise exhaust the parser's recursion).
- A patch's fields that cannot be empty refuse an explicit `null` (leave a field out to keep it).

`InputGuard` applies the first two to every query string and JSON body; handlers that read a
body themselves (multipart parts, uploads) call `parse_json` and `check_text`.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credflow_common.problems import TYPE_BASE, FieldError, ProblemError, problem_response

MAX_JSON_DEPTH = 64
JSON_TYPES = ("application/json", "application/problem+json", "application/merge-patch+json")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return "must not contain the NUL character (\\u0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain a lone surrogate (\\ud800-\\udfff)"
    return None


BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
"""Unicode's bidirectional controls (marks, embeddings, overrides, isolates): in a name, U+202E
shows "Person\u202egnp.exe" as "Personexe.png", and reverses the text printed after it."""


def name_problem(value: str) -> str | None:
    """Why `value` cannot be a name, title or file name, or None when it can."""
    if any(unicodedata.category(character) == "Cc" for character in value):
        return "must be one line of text, without control characters"
    if not BIDI_CONTROLS.isdisjoint(value):
        return (
            "must not contain bidirectional control characters (such as U+202E), which make"
            " text read in another order than it is written"
        )
    return None


def single_line(value: str) -> str:
    """Pydantic validator for names and titles: no line breaks, tabs or other control
    characters (they end up in mail subjects and CSV cells), and no bidirectional controls."""
    problem = name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def invalid_input(errors: list[FieldError], detail: str | None = None) -> ProblemError:
    return ProblemError(
        422,
        "Request is not valid",
        detail or f"{len(errors)} field(s) failed validation",
        type=TYPE_BASE + "validation",
        errors=errors,
    )


def _nodes(document: Any, path: str) -> Iterator[tuple[Any, str, int]]:
    """Every value of a JSON document, and every key (as a string), with its path and depth;
    iterative, so a deep document cannot exhaust the stack."""
    stack: list[tuple[Any, str, int]] = [(document, path, 1)]
    while stack:
        value, where, depth = stack.pop()
        yield value, where, depth
        if isinstance(value, dict):
            for key, item in value.items():
                yield key, f"{where}.{key}", depth
                stack.append((item, f"{where}.{key}", depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{where}.{index}", depth + 1) for index, item in enumerate(value))


def check_document(document: Any, path: str = "body") -> None:
    """ProblemError (422) for a JSON document nested too deeply or holding unstorable text."""
    for value, where, depth in _nodes(document, path):
        if depth > MAX_JSON_DEPTH:
            raise invalid_input(
                [FieldError(where, f"nested more than {MAX_JSON_DEPTH} levels deep", "too_deep")]
            )
        problem = text_problem(value) if isinstance(value, str) else None
        if problem:
            raise invalid_input([FieldError(where, problem, "invalid_text")])


def parse_json(raw: bytes | str, path: str = "body") -> Any:
    """A JSON document checked as above; ProblemError (422, naming `path`) when it is not."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise invalid_input(
                [FieldError(path, f"not UTF-8 (byte {exc.start} cannot be read)", "not_utf8")]
            ) from exc
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise invalid_input([FieldError(path, f"not JSON: {exc}", "json_invalid")]) from exc
    except RecursionError as exc:
        raise invalid_input(
            [FieldError(path, f"nested more than {MAX_JSON_DEPTH} levels deep", "too_deep")]
        ) from exc
    check_document(document, path)
    return document


def check_query(query_string: bytes) -> None:
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        for text in (name, value):
            problem = text_problem(text)
            if problem:
                raise invalid_input([FieldError(f"query.{name}", problem, "invalid_text")])


class InputGuard:
    """ASGI middleware: refuses (422 problem+json) a query string or JSON body that breaks the
    rules above, before routing; everything else passes through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_query(scope.get("query_string", b""))
            if _is_json(scope):
                body = await _read_body(receive)
                if body.strip():
                    parse_json(body)
                receive = _replay(body, receive)
        except ProblemError as problem:
            await problem_response(problem, Request(scope))(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _is_json(scope: Scope) -> bool:
    if scope["method"] not in ("POST", "PUT", "PATCH", "DELETE"):
        return False
    for name, value in scope["headers"]:
        if name == b"content-type":
            media_type = value.decode("latin-1").split(";")[0].strip().lower()
            return media_type in JSON_TYPES
    return False


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then whatever the connection says next (its disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class Input(BaseModel):
    """A request body: unknown fields are refused (422 naming the field)."""

    model_config = ConfigDict(extra="forbid")


class Patch(Input):
    """A partial update: fields left out keep their value; `null` clears a field only where
    `clearable` lists it, and is refused (422 naming the field) anywhere else."""

    clearable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.clearable:
            raise ValueError("cannot be null: leave the field out to keep its value")
        return value
