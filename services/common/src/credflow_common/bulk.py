"""Many rows in one statement: each column goes as one array parameter (binary) and SQL unnests
them back into rows, so a batch of thousands costs one round trip and one plan:

    COLUMNS = (Column("mail_id", "uuid", lambda m: m.mail_id), ...)
    await conn.execute(f"INSERT INTO t SELECT * FROM {unnest(COLUMNS, 'm')}", arrays(COLUMNS, rows))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

Row = TypeVar("Row")


@dataclass(frozen=True)
class Column(Generic[Row]):
    name: str
    sql_type: str  # the element type: `uuid`, `text`, `date`...
    value: Callable[[Row], Any]


def unnest(columns: Sequence[Column[Row]], alias: str) -> str:
    """`unnest(%b::uuid[], ...) AS alias (name, ...)`: the rows, for a FROM clause."""
    arrays_in = ", ".join(f"%b::{column.sql_type}[]" for column in columns)
    names = ", ".join(column.name for column in columns)
    return f"unnest({arrays_in}) AS {alias} ({names})"


def arrays(columns: Sequence[Column[Row]], rows: Sequence[Row]) -> list[list[Any]]:
    """The parameters `unnest` takes: one list per column, in the rows' order."""
    return [[column.value(row) for row in rows] for column in columns]
