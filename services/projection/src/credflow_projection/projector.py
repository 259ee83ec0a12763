"""The projection's consumer: every public topic into the view tables, one batch per
transaction.

Credential events are applied load-fold-store: the rows of every credential the batch touches
are loaded in four queries, every event is folded in memory (`model.apply`), and what changed
is written back with one DELETE and one COPY per table. Directory and import events are few
and are applied one statement each (`reference.py`). Last, the derived rows the batch made
stale are brought up to date (`derived.py`: credentials' labels, workers' compliance).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar
from uuid import UUID

from psycopg import AsyncClientCursor, AsyncConnection, pq, sql
from psycopg.adapt import Dumper
from psycopg.rows import class_row

from credflow_common.consumer import ConsumerSpec, Delivery
from credflow_contracts.events.credentials import CredentialEvent
from credflow_contracts.events.directory import (
    UserCreated,
    UserUpdated,
)
from credflow_contracts.events.reminders import ReminderSent
from credflow_contracts.topics import PUBLIC_TOPICS
from credflow_projection import derived, erasure, model, reference
from credflow_projection.derived import Stale
from credflow_projection.rows import (
    AuditRow,
    CredentialRow,
    MediaRow,
    ReviewItemRow,
    Row,
    VersionRow,
    Views,
)
from credflow_projection.table_stats import TableStats

CONSUMER = "projection.views"
JSONB_OID = 3802
SWAP_LOCK = 0x63666C6F77_7072  # pg advisory lock key: "cflow" "pr"
Conn = AsyncConnection[Any]
R = TypeVar("R", bound=Row)


async def hold_swap_lock(conn: Conn) -> None:
    """Shared by every batch; `credflow projection rebuild` takes it exclusively to swap."""
    await conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (SWAP_LOCK,))


def views_consumer(topic_prefix: str = "") -> ConsumerSpec:
    stats = TableStats()  # one per consumer process

    async def handler(conn: Conn, deliveries: Sequence[Delivery]) -> None:
        await apply_batch(conn, deliveries, stats)

    return ConsumerSpec(
        name=CONSUMER,
        topics=[topic_prefix + topic for topic in PUBLIC_TOPICS],
        handler=handler,
        before_batch=hold_swap_lock,
    )


async def apply_batch(conn: Conn, deliveries: Sequence[Delivery], stats: TableStats) -> None:
    stale = Stale()
    credential_deliveries = await apply_reference_data(conn, deliveries, stale)
    stats.wrote("people", sum(isinstance(d.envelope.event, UserCreated) for d in deliveries))
    touched: set[UUID] = {p for people in stale.holders.values() for p in people}
    if credential_deliveries:
        views = await load(conn, {d.envelope.event.credential_id for d in credential_deliveries})  # type: ignore[attr-defined]
        before = derived.before_batch(views)
        for delivery in credential_deliveries:
            model.apply(views, delivery.envelope)
        await derived.label_new(conn, views)
        await store(conn, views)
        for row_type, name in VIEW_TABLES:
            stats.wrote(row_type.TABLE, sum(key in views.dirty for key in getattr(views, name)))
        derived.note_credentials(stale, views, before)
        touched |= {row.holder_id for row in views.credentials.values()}
    await erasure.forget(conn, touched)  # before relabelling: labels come from people
    await stats.analyse_grown(conn)  # before the derived rows: their plans depend on it
    await derived.bring_up_to_date(conn, stale)


async def apply_reference_data(
    conn: Conn, deliveries: Sequence[Delivery], stale: Stale | None = None
) -> list[Delivery]:
    """Apply the directory and import events, noting in `stale` what derived rows they
    change; return the credential (and reminder) events."""
    stale = stale if stale is not None else Stale()
    credential_deliveries = []
    people: list[tuple[Any, ...]] = []  # the bulk of directory events: upserted together
    for delivery in deliveries:
        event = delivery.envelope.event
        if isinstance(event, CredentialEvent | ReminderSent):
            credential_deliveries.append(delivery)
        elif isinstance(event, UserCreated | UserUpdated):
            user = event.user
            people.append((
                event.organisation_id, user.user_id, user.email, user.name, user.status,
                user.company_id, user.manager_id, user.group_ids, list(user.roles),
                user.permissions,
            ))  # fmt: skip
            stale.holders[event.organisation_id].add(user.user_id)
        else:
            await reference.apply(conn, event)
            reference.note_stale(stale, event)
    if people:
        async with conn.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO people (organisation_id, user_id, email, name, status, company_id,"
                " manager_id, group_ids, roles, permissions)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (organisation_id, user_id) DO UPDATE SET email = EXCLUDED.email,"
                " name = EXCLUDED.name, status = EXCLUDED.status,"
                " company_id = EXCLUDED.company_id, manager_id = EXCLUDED.manager_id,"
                " group_ids = EXCLUDED.group_ids, roles = EXCLUDED.roles,"
                " permissions = EXCLUDED.permissions",
                people,
            )
    return credential_deliveries


LOADED_TABLES: tuple[tuple[type[Row], str], ...] = (
    (CredentialRow, ""),
    (VersionRow, ""),
    (MediaRow, ""),
    (ReviewItemRow, " AND state = 'open'"),
)


async def load(conn: Conn, credential_ids: set[UUID]) -> Views:
    """The rows of these credentials, from the four tables in one statement: a client-side
    bound query may hold several SELECTs, each its own result set (fewer statements per batch
    was the measured lever on this service's CPU)."""
    views = Views()
    async with AsyncClientCursor(conn) as cursor:
        # The id list quoted once (psycopg would quote it again for each SELECT).
        ids = cursor.mogrify("%s", (list(credential_ids),))
        await cursor.execute(_load_sql().replace(IDS, ids))
        results: list[list[Any]] = []
        for row_type, _ in LOADED_TABLES:
            cursor.row_factory = class_row(row_type)
            results.append(await cursor.fetchall())
            cursor.nextset()
    credentials, versions, media, items = results
    views.credentials = {r.credential_id: r for r in credentials}
    views.versions = {r.version_id: r for r in versions}
    views.media = {r.media_id: r for r in media}
    for item in items:
        views.add_item(item)
    views.dirty.clear()
    return views


IDS = "{credential_ids}"


@cache
def _load_sql() -> str:
    """Rendered once: psycopg renders a composed query on every execution."""
    return ";".join(_select_sql(row_type, extra) for row_type, extra in LOADED_TABLES)


def _select_sql(row: type[Row], extra: str) -> str:
    columns = [
        sql.SQL("{}::text AS {}").format(sql.Identifier(c), sql.Identifier(c))
        if c in row.JSON_COLUMNS
        else sql.Identifier(c)
        for c in row.columns()
    ]
    query = sql.SQL("SELECT {} FROM {} WHERE credential_id = ANY({})" + extra).format(  # noqa: S608
        sql.SQL(", ").join(columns), sql.Identifier(row.TABLE), sql.SQL(IDS)
    )
    return query.as_string()


SMALL_BATCH_ROWS = 200
VIEW_TABLES: tuple[tuple[type[Row], str], ...] = (
    (CredentialRow, "credentials"),
    (VersionRow, "versions"),
    (MediaRow, "media"),
    (ReviewItemRow, "review_items"),
)


async def store(conn: Conn, views: Views, fresh: bool = False) -> None:
    """Write back what `views` changed. `fresh`: the tables were empty (a rebuild's replay),
    so there is nothing to delete first. A few rows (a live batch at a quiet moment) go as
    upserts in one pipelined round trip; many go as DELETE + COPY per table."""
    changed = {
        row_type: [row for key, row in getattr(views, name).items() if key in views.dirty]
        for row_type, name in VIEW_TABLES
    }
    if not fresh and sum(map(len, changed.values())) + len(views.audit) <= SMALL_BATCH_ROWS:
        return await _upsert_all(conn, changed, views)
    await _replace(conn, CredentialRow, views.credentials, views, fresh)
    await _replace(conn, VersionRow, views.versions, views, fresh)
    await _replace(conn, MediaRow, views.media, views, fresh)
    await _replace(conn, ReviewItemRow, views.review_items, views, fresh)
    await _copy(conn, AuditRow, [row.values() for row in views.audit])


async def _upsert_all(conn: Conn, changed: dict[type[Row], list[Any]], views: Views) -> None:
    async with conn.pipeline(), conn.cursor() as cursor:
        for row_type, rows in changed.items():
            deleted = views.deleted.get(row_type.TABLE)
            if deleted:
                await cursor.execute(DELETES[row_type], (list(deleted),))
            if rows:
                await cursor.executemany(UPSERTS[row_type], [row.values() for row in rows])
        if views.audit:
            await cursor.executemany(UPSERTS[AuditRow], [row.values() for row in views.audit])


def _upsert_sql(row_type: type[Row]) -> sql.Composed:
    columns = row_type.columns()
    updates = [c for c in columns if c != row_type.KEY]
    return sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}").format(
        sql.Identifier(row_type.TABLE),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(
            sql.SQL("%s::jsonb") if c in row_type.JSON_COLUMNS or c == "detail" else sql.SQL("%s")
            for c in columns
        ),
        sql.Identifier(row_type.KEY),
        sql.SQL(", ").join(
            sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
            for c in updates
        ),
    )


# Rendered once, as `_select_sql`.
UPSERTS: dict[type[Row], str] = {
    row_type: _upsert_sql(row_type).as_string()
    for row_type in (CredentialRow, VersionRow, MediaRow, ReviewItemRow, AuditRow)
}
DELETES: dict[type[Row], str] = {
    row_type: sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)")
    .format(sql.Identifier(row_type.TABLE), sql.Identifier(row_type.KEY))
    .as_string()
    for row_type in (CredentialRow, VersionRow, MediaRow, ReviewItemRow)
}


async def _replace(
    conn: Conn, row_type: type[R], rows: dict[UUID, R], views: Views, fresh: bool
) -> None:
    """Delete the changed and deleted rows of one table by key, then COPY the changed ones."""
    changed = [row for key, row in rows.items() if key in views.dirty]
    if fresh:
        return await _copy(conn, row_type, [row.values() for row in changed])
    keys = [getattr(row, row_type.KEY) for row in changed]
    keys += views.deleted.get(row_type.TABLE, set())
    if not keys:
        return None
    await conn.execute(DELETES[row_type], (keys,))
    await _copy(conn, row_type, [row.values() for row in changed])


class _JsonTextBinaryDumper(Dumper):
    """jsonb in binary COPY from JSON that is already text (the rows hold JSON strings):
    the format is a version byte and the text."""

    format = pq.Format.BINARY
    oid = JSONB_OID

    def dump(self, obj: Any) -> bytes:
        return b"\x01" + str(obj).encode()


async def _copy(conn: Conn, row_type: type[Row], values: list[tuple[Any, ...]]) -> None:
    """Binary COPY: a quarter of the client CPU of text COPY per row (`make bench`)."""
    if not values:
        return
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(row_type.TABLE), sql.SQL(", ").join(map(sql.Identifier, row_type.columns()))
    )
    async with conn.cursor() as cursor:
        cursor.adapters.register_dumper(str, _JsonTextBinaryDumper)
        async with cursor.copy(statement) as copy:
            copy.set_types(list(row_type.TYPES))
            for row in values:
                await copy.write_row(row)
