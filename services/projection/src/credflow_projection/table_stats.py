"""The planner's statistics kept in step with a fast-growing tenant.

PostgreSQL's autovacuum analyses a table once a tenth of it has changed, checking once a minute.
A tenant imported or replayed at thousands of events a second outgrows that: a minute after the
first workers arrive the statistics still say `people` holds 17 rows, and the derived-row
statements (judging compliance, labelling) pick plans for 17 rows over 20,000. Measured on the
bench's 20,000-worker tenant, judging took 20-55 s of a 45-98 s apply depending on when
autovacuum happened to run, against 5 s with current statistics.

So the projector counts the rows it writes to each table and analyses a table itself, inside the
batch's transaction and before the derived rows are brought up to date, once it has written a
quarter of what the statistics last counted (at least `MIN_ROWS`): a few ANALYZEs while a tenant
grows, none in a steady state.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from psycopg import AsyncConnection, sql

MIN_ROWS = 2000
GROWTH = 0.25
TABLES = ("people", "credentials", "versions", "review_items")


class TableStats:
    def __init__(self) -> None:
        self.written: Counter[str] = Counter()
        self.counted: dict[str, float] = {}  # pg_class.reltuples at the last look

    def wrote(self, table: str, rows: int) -> None:
        self.written[table] += rows

    async def analyse_grown(self, conn: AsyncConnection[Any]) -> list[str]:
        """ANALYZE each table written to by more than its threshold; return their names."""
        grown = []
        for table in TABLES:
            written = self.written[table]
            if written < MIN_ROWS:
                continue
            if table not in self.counted:
                self.counted[table] = await _reltuples(conn, table)
            if written >= max(MIN_ROWS, GROWTH * self.counted[table]):
                await conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
                self.counted[table] = await _reltuples(conn, table)
                self.written[table] = 0
                grown.append(table)
        return grown


async def _reltuples(conn: AsyncConnection[Any], table: str) -> float:
    """The statistics' row count (-1: never analysed, counted as empty)."""
    cursor = await conn.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)",
                                (table,))  # fmt: skip
    row = await cursor.fetchone()
    return max(float(row[0]), 0.0) if row and row[0] is not None else 0.0
