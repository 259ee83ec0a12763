"""What the views derive from several tables, kept current after each batch:

- each credential's labels (its holder's name, email and company, its type's name), which the
  lists sort, filter and search by without a join;
- each worker's compliance, held as `compliant_until` (the last day they stay compliant).

The rules themselves are the SQL view `credential_labels` and function `worker_validity`
(migrations 0603 and 0604); this module only decides which rows to bring up to date, set-based.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from credflow_projection.rows import CredentialRow, Views

Conn = AsyncConnection[Any]
LABELS = "holder_name, holder_email, company_id, company_name, type_name"
RELABEL = (
    "UPDATE credentials c SET ({labels}) = ({labels_l}) FROM credential_labels l"
    " WHERE l.credential_id = c.credential_id AND {selector}"
    " AND ({labels_c}) IS DISTINCT FROM ({labels_l})"
)
SELECTORS = {
    "holders": "c.organisation_id = %(org)s AND c.holder_id = ANY(%(ids)s)",
    "types": "c.organisation_id = %(org)s AND c.credential_type_id = ANY(%(ids)s)",
    "companies": "c.organisation_id = %(org)s AND c.company_id = ANY(%(ids)s)",
    "everything": "true",
}
JUDGE = (
    "UPDATE people p SET compliant_until = coalesce(v.until, '9999-12-31')"
    " FROM people w LEFT JOIN worker_validity(%(org)s, %(users)s) v ON v.user_id = w.user_id"
    " WHERE w.organisation_id = %(org)s AND w.user_id = ANY(%(users)s)"
    " AND p.organisation_id = w.organisation_id AND p.user_id = w.user_id"
    " AND p.compliant_until IS DISTINCT FROM coalesce(v.until, '9999-12-31')"
)
EVERYONE = "SELECT user_id FROM people WHERE organisation_id = %s"


def _relabel_sql(selector: str) -> str:
    names = [name.strip() for name in LABELS.split(",")]
    return RELABEL.format(
        labels=LABELS, selector=SELECTORS[selector],
        labels_c=", ".join(f"c.{name}" for name in names),
        labels_l=", ".join(f"l.{name}" for name in names),
    )  # fmt: skip


RELABEL_SQL = {name: _relabel_sql(name) for name in SELECTORS}


@dataclass
class Stale:
    """What a batch changed that derived rows depend on, by organisation."""

    # People created or changed: relabel their credentials and judge them again.
    holders: defaultdict[UUID, set[UUID]] = field(default_factory=lambda: defaultdict(set))
    # A credential of theirs began or stopped meeting requirements (or an answer changed).
    judged: defaultdict[UUID, set[UUID]] = field(default_factory=lambda: defaultdict(set))
    types: defaultdict[UUID, set[UUID]] = field(default_factory=lambda: defaultdict(set))
    companies: defaultdict[UUID, set[UUID]] = field(default_factory=lambda: defaultdict(set))
    # Requirements, assessments or a type's internal equivalent changed: judge everyone.
    organisations: set[UUID] = field(default_factory=set)


Meeting = tuple[UUID, UUID | None, date | None] | None


MEETS = ("verified", "submitted")
"""The reviews SQL's `meets_requirement` accepts (migration 0604, where the rule lives): here
only to tell which changes can alter a holder's compliance, so that others judge nobody."""


def meeting(row: CredentialRow) -> Meeting:
    """What of a credential decides which requirements it meets and until when (as SQL's
    `held_types` and `meets_requirement` read it): nothing unless it meets one at all."""
    if row.lifecycle != "active" or row.review not in MEETS:
        return None
    return row.credential_type_id, row.internal_equivalent_id, row.expires_on


def before_batch(views: Views) -> dict[UUID, tuple[UUID, UUID, Meeting]]:
    """Each loaded credential's organisation, holder and `meeting`, before the batch folds."""
    return {
        key: (row.organisation_id, row.holder_id, meeting(row))
        for key, row in views.credentials.items()
    }


def note_credentials(stale: Stale, views: Views,
                     before: dict[UUID, tuple[UUID, UUID, Meeting]]) -> None:  # fmt: skip
    """Holders to judge again: those whose credentials began or stopped meeting requirements
    (most events, a claim or a file, change nothing of it)."""
    for key, (org, holder, was) in before.items():
        row = views.credentials.get(key)
        if row is None or key in views.deleted.get(CredentialRow.TABLE, ()) or meeting(row) != was:
            stale.judged[org].add(holder)
    for key in views.dirty:
        row = views.credentials.get(key)
        if row is not None and key not in before and meeting(row) is not None:
            stale.judged[row.organisation_id].add(row.holder_id)


HOLDER_LABELS = (
    "SELECT p.user_id, p.name, p.email, p.company_id, co.name FROM people p"
    " LEFT JOIN companies co ON co.organisation_id = p.organisation_id"
    " AND co.company_id = p.company_id"
    " WHERE p.organisation_id = ANY(%(orgs)s) AND p.user_id = ANY(%(ids)s)"
)
TYPE_LABELS = (
    "SELECT credential_type_id, name FROM credential_types"
    " WHERE organisation_id = ANY(%(orgs)s) AND credential_type_id = ANY(%(ids)s)"
)


async def label_new(conn: Conn, views: Views) -> None:
    """Give the batch's credentials that have no labels yet (new ones, mostly) their labels
    before they are written, as `credential_labels` defines them; one whose holder or type
    the views do not know yet is labelled when that arrives (`Stale.holders`, `.types`)."""
    rows = [
        row for key in views.dirty
        if (row := views.credentials.get(key)) is not None
        and (not row.holder_name or not row.type_name)
    ]  # fmt: skip
    if not rows:
        return
    orgs = list({row.organisation_id for row in rows})
    async with conn.cursor() as cursor:
        holder_ids = list({row.holder_id for row in rows})
        await cursor.execute(HOLDER_LABELS, {"orgs": orgs, "ids": holder_ids})
        holders = {user_id: labels for user_id, *labels in await cursor.fetchall()}
        type_ids = list({row.credential_type_id for row in rows})
        await cursor.execute(TYPE_LABELS, {"orgs": orgs, "ids": type_ids})
        types = dict(await cursor.fetchall())
    for row in rows:
        if row.holder_id in holders:
            row.holder_name, row.holder_email, row.company_id, row.company_name = holders[
                row.holder_id
            ]
        row.type_name = types.get(row.credential_type_id, row.type_name)


async def bring_up_to_date(conn: Conn, stale: Stale) -> None:
    for selector, chosen in (("holders", stale.holders), ("types", stale.types),
                             ("companies", stale.companies)):  # fmt: skip
        for org, keys in chosen.items():
            await conn.execute(RELABEL_SQL[selector], {"org": org, "ids": list(keys)})
    for org in stale.judged.keys() | stale.holders.keys():
        if org not in stale.organisations:
            users = stale.judged.get(org, set()) | stale.holders.get(org, set())
            await conn.execute(JUDGE, {"org": org, "users": list(users)})
    for org in stale.organisations:
        await judge_everyone_in(conn, org)


async def label_everything(conn: Conn) -> None:
    """Label every credential (after a rebuild's bulk replay, before its indexes exist)."""
    await conn.execute(RELABEL_SQL["everything"], {})


async def judge_everyone(conn: Conn) -> None:
    """Judge every worker's compliance (after a rebuild, once the indexes exist)."""
    cursor = await conn.execute("SELECT organisation_id FROM organisations")
    for (org,) in await cursor.fetchall():
        await judge_everyone_in(conn, org)


async def judge_everyone_in(conn: Conn, org: UUID) -> None:
    cursor = await conn.execute(EVERYONE, (org,))
    users = [user_id for (user_id,) in await cursor.fetchall()]
    if users:
        await conn.execute(JUDGE, {"org": org, "users": users})
