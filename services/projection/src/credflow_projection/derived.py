"""What the views derive from several tables, kept current after each batch:

- each credential's labels (its holder's name, email and company, its type's name), which the
  lists sort, filter and search by without a join;
- each worker's compliance, held as `compliant_until` (the last day they stay compliant).

The rules themselves are the SQL views `credential_labels` and `worker_validity` (migration
0603); this module only decides which rows to bring up to date, and does it set-based.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from credflow_projection.model import Views

Conn = AsyncConnection[Any]
LABELS = "holder_name, holder_email, company_id, company_name, type_name"
RELABEL = (
    "UPDATE credentials c SET ({labels}) = ({labels_l}) FROM credential_labels l"
    " WHERE l.credential_id = c.credential_id AND {selector}"
    " AND ({labels_c}) IS DISTINCT FROM ({labels_l})"
)
SELECTORS = {
    "credentials": "c.credential_id = ANY(%(ids)s)",
    "holders": "c.organisation_id = %(org)s AND c.holder_id = ANY(%(ids)s)",
    "types": "c.organisation_id = %(org)s AND c.credential_type_id = ANY(%(ids)s)",
    "companies": "c.organisation_id = %(org)s AND c.company_id = ANY(%(ids)s)",
    "everything": "true",
}
JUDGE = (
    "UPDATE people p SET compliant_until = coalesce(v.until, '9999-12-31')"
    " FROM people w LEFT JOIN (SELECT user_id, until FROM worker_validity"
    "   WHERE organisation_id = %(org)s {only_v}) v ON v.user_id = w.user_id"
    " WHERE w.organisation_id = %(org)s {only_w}"
    " AND p.organisation_id = w.organisation_id AND p.user_id = w.user_id"
    " AND p.compliant_until IS DISTINCT FROM coalesce(v.until, '9999-12-31')"
)


def _relabel_sql(selector: str) -> str:
    names = [name.strip() for name in LABELS.split(",")]
    return RELABEL.format(
        labels=LABELS, selector=SELECTORS[selector],
        labels_c=", ".join(f"c.{name}" for name in names),
        labels_l=", ".join(f"l.{name}" for name in names),
    )  # fmt: skip


RELABEL_SQL = {name: _relabel_sql(name) for name in SELECTORS}
JUDGE_SOME = JUDGE.format(
    only_v="AND user_id = ANY(%(users)s)", only_w="AND w.user_id = ANY(%(users)s)"
)
JUDGE_ALL = JUDGE.format(only_v="", only_w="")


@dataclass
class Stale:
    """What a batch changed that derived rows depend on, by organisation."""

    holders: defaultdict[UUID, set[UUID]] = field(default_factory=lambda: defaultdict(set))
    types: defaultdict[UUID, set[UUID]] = field(default_factory=lambda: defaultdict(set))
    companies: defaultdict[UUID, set[UUID]] = field(default_factory=lambda: defaultdict(set))
    # Requirements, assessments or a type's internal equivalent changed: judge everyone.
    organisations: set[UUID] = field(default_factory=set)

    def credentials_changed(self, views: Views) -> list[UUID]:
        """Note the holders of the batch's changed credentials (their compliance may have
        changed); return the changed credentials that have no labels yet."""
        unlabelled = []
        for credential_id in views.dirty:
            row = views.credentials.get(credential_id)
            if row is None:
                continue
            self.holders[row.organisation_id].add(row.holder_id)
            if not row.holder_name or not row.type_name:
                unlabelled.append(credential_id)
        for credential_id in views.deleted.get("credentials", ()):
            row = views.credentials.get(credential_id)
            if row is not None:
                self.holders[row.organisation_id].add(row.holder_id)
        return unlabelled


async def bring_up_to_date(conn: Conn, stale: Stale, unlabelled: Iterable[UUID] = ()) -> None:
    ids = list(unlabelled)
    if ids:
        await conn.execute(RELABEL_SQL["credentials"], {"ids": ids})
    for selector, chosen in (("holders", stale.holders), ("types", stale.types),
                             ("companies", stale.companies)):  # fmt: skip
        for org, keys in chosen.items():
            await conn.execute(RELABEL_SQL[selector], {"org": org, "ids": list(keys)})
    for org, users in stale.holders.items():
        if org not in stale.organisations:
            await conn.execute(JUDGE_SOME, {"org": org, "users": list(users)})
    for org in stale.organisations:
        await conn.execute(JUDGE_ALL, {"org": org})


async def label_everything(conn: Conn) -> None:
    """Label every credential (after a rebuild's bulk replay, before its indexes exist)."""
    await conn.execute(RELABEL_SQL["everything"], {})


async def judge_everyone(conn: Conn) -> None:
    """Judge every worker's compliance (after a rebuild, once the indexes exist)."""
    cursor = await conn.execute("SELECT organisation_id FROM organisations")
    for (org,) in await cursor.fetchall():
        await conn.execute(JUDGE_ALL, {"org": org})
