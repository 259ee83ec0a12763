"""Paging cursors: the sort values of a page's last row, handed out as opaque base64 JSON and
read back by type, so a forged cursor is refused (ValueError) and never reaches SQL."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from credflow_common.inputs import text_problem


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps([str(v) for v in values]).encode()).decode()


def _text(value: str) -> str:
    if text_problem(value):
        raise ValueError("malformed cursor")
    return value


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("malformed cursor")
    return moment


CursorPart = Callable[[str], Any]
TEXT: CursorPart = _text
ID: CursorPart = UUID
MOMENT: CursorPart = _moment


def decode_cursor(cursor: str, *parts: CursorPart) -> list[Any]:
    """The values of a cursor this service handed out, each read by its part (`TEXT`, `ID`,
    `MOMENT`); ValueError for anything else, so a forged cursor never reaches SQL."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, RecursionError) as exc:
        raise ValueError("malformed cursor") from exc
    if (
        not isinstance(values, list)
        or len(values) != len(parts)
        or not all(isinstance(value, str) for value in values)
    ):
        raise ValueError("malformed cursor")
    try:
        return [read(value) for read, value in zip(parts, values, strict=True)]
    except ValueError as exc:
        raise ValueError("malformed cursor") from exc


SQL_CAST: dict[CursorPart, str] = {TEXT: "", ID: "::uuid", MOMENT: "::timestamptz"}


@dataclass(frozen=True)
class SortKey:
    """One column of a view's order: its SQL expression, how a cursor's value for it is read
    back, and the key of the row that holds its value."""

    expression: str
    part: CursorPart
    column: str


def after(keys: Sequence[SortKey], cursor: str, params: dict[str, Any]) -> str:
    """The condition for the rows after `cursor` (its values added to `params`): keyset
    paging, so a page costs the same however deep it is."""
    placeholders = []
    for index, (key, value) in enumerate(zip(keys, decode_cursor(cursor, *(k.part for k in keys)),
                                             strict=True)):  # fmt: skip
        params[f"after_{index}"] = value
        placeholders.append(f"%(after_{index})s{SQL_CAST[key.part]}")
    return f"({', '.join(k.expression for k in keys)}) > ({', '.join(placeholders)})"


def page_of(
    rows: list[dict[str, Any]], limit: int, keys: Sequence[SortKey]
) -> tuple[list[dict[str, Any]], str | None]:
    """The page of `rows` (fetched with LIMIT limit + 1) and the cursor of the next, if any."""
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    values = [_cursor_value(last[key.column]) for key in keys]
    return rows[:limit], encode_cursor(values)


def _cursor_value(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
