"""The scale section's upkeep figures: table sizes, and a rebuild of every tenant."""

from __future__ import annotations

import time

from psycopg import AsyncConnection

from credflow_common.settings import InfraSettings, RuntimeSettings
from credflow_projection.rebuild import rebuild


async def sizes(url: str) -> None:
    async with await AsyncConnection.connect(url) as conn:
        cursor = await conn.execute(
            "SELECT relname, n_live_tup, pg_total_relation_size(relid) FROM pg_stat_user_tables"
            " WHERE schemaname = 'projection' AND relname IN"
            " ('credentials', 'audit', 'consumer_inbox', 'consumer_streams', 'people',"
            " 'review_items')"
            " ORDER BY 3 DESC"
        )
        for name, rows, size in await cursor.fetchall():
            print(f"  table {name:<16} {rows:>10,} rows {size / 2**20:>8,.0f} MB")


async def rebuild_every_tenant(url: str, bootstrap: str, prefix: str) -> None:
    """`credflow projection rebuild` of the whole log while the projection process serves."""
    started = time.perf_counter()
    rebuilt = await rebuild(InfraSettings(database_url=url, kafka_bootstrap_servers=bootstrap),
                            RuntimeSettings(topic_prefix=prefix))  # fmt: skip
    seconds = time.perf_counter() - started
    print(f"  rebuild of every tenant into a fresh schema, then swap: {rebuilt.events_applied:,}"
          f" events in {seconds:.0f} s ({rebuilt.events_applied / seconds:,.0f} events/s)",
          flush=True)  # fmt: skip
