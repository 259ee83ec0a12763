"""People's data keys (ADR 0017): one per person, created the first time it is asked for,
stored only wrapped by the keyring's key-encryption key, and destroyed at erasure; and the
operator's rotation of the key-encryption key (`credflow keys rotate`, `credflow keys retire`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common.keyring import KeyEncryptionKeys, LocalKeyring, new_data_key

Conn = AsyncConnection[Any]


def owner(org: UUID, user_id: UUID) -> str:
    """The name a data key is wrapped for: a wrapped key moved to another row does not open."""
    return f"{org}/{user_id}"


class PersonKeys:
    def __init__(self, keyring: KeyEncryptionKeys) -> None:
        self.keyring = keyring

    async def data_key(self, conn: Conn, org: UUID, user_id: UUID) -> bytes:
        """The person's data key; a new one when they have none yet (two instances asking at
        once agree on the first one stored)."""
        wrapped = await self._wrapped(conn, org, user_id)
        if wrapped is None:
            await conn.execute(
                "INSERT INTO person_keys (organisation_id, user_id, wrapped) VALUES (%s, %s, %s)"
                " ON CONFLICT (organisation_id, user_id) DO NOTHING",
                (org, user_id, self.keyring.wrap(new_data_key(), owner(org, user_id))),
            )
            wrapped = await self._wrapped(conn, org, user_id)
            assert wrapped is not None  # ours, or the one another instance stored first
        return self.keyring.unwrap(wrapped, owner(org, user_id))

    async def data_keys(self, conn: Conn, org: UUID, user_ids: Sequence[UUID]) -> dict[UUID, bytes]:
        """The data keys of many people of `org`, new ones made for those who have none yet
        (as `data_key`)."""
        found = await self._wrapped_many(conn, org, user_ids)
        missing = [user_id for user_id in dict.fromkeys(user_ids) if user_id not in found]
        if missing:
            await conn.execute(
                "INSERT INTO person_keys (organisation_id, user_id, wrapped)"
                " SELECT %s, u.user_id, u.wrapped FROM unnest(%s::uuid[], %s::text[])"
                " AS u (user_id, wrapped) ON CONFLICT (organisation_id, user_id) DO NOTHING",
                (org, missing,
                 [self.keyring.wrap(new_data_key(), owner(org, u)) for u in missing]),
            )  # fmt: skip
            found |= await self._wrapped_many(conn, org, missing)
        return {user_id: self.keyring.unwrap(wrapped, owner(org, user_id))
                for user_id, wrapped in found.items()}  # fmt: skip

    async def _wrapped_many(
        self, conn: Conn, org: UUID, user_ids: Sequence[UUID]
    ) -> dict[UUID, str]:
        cursor = await conn.execute(
            "SELECT user_id, wrapped FROM person_keys WHERE organisation_id = %s"
            " AND user_id = ANY(%s)",
            (org, list(user_ids)),
        )
        return {user_id: str(wrapped) for user_id, wrapped in await cursor.fetchall()}

    async def _wrapped(self, conn: Conn, org: UUID, user_id: UUID) -> str | None:
        cursor = await conn.execute(
            "SELECT wrapped FROM person_keys WHERE organisation_id = %s AND user_id = %s",
            (org, user_id),
        )
        row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def destroy(self, conn: Conn, org: UUID, user_id: UUID) -> bool:
        """Delete the person's data key, the only copy; whether there was one."""
        cursor = await conn.execute(
            "DELETE FROM person_keys WHERE organisation_id = %s AND user_id = %s", (org, user_id)
        )
        return cursor.rowcount > 0


async def erased_among(conn: Conn, org: UUID, user_ids: list[UUID]) -> set[UUID]:
    """Those of `user_ids` whose erasure was asked for: no key is handed out or made for them."""
    cursor = await conn.execute(
        "SELECT user_id FROM erasures WHERE organisation_id = %s AND user_id = ANY(%s)",
        (org, user_ids),
    )
    return {row[0] for row in await cursor.fetchall()}


class LocalKeySource:
    """The directory's own `KeySource` (it seals the personal fields of its events): the key
    store itself, in the caller's transaction when there is one (a person created in it has
    a key at once); no key for a person whose erasure was asked for."""

    def __init__(self, pool: AsyncConnectionPool[Conn], keys: PersonKeys) -> None:
        self.pool, self.keys = pool, keys

    async def keys_of(
        self, organisation_id: UUID, user_ids: Collection[UUID], conn: Conn | None = None
    ) -> dict[UUID, bytes | None]:
        if conn is None:
            async with self.pool.connection() as own, own.transaction():
                return await self._keys_of(own, organisation_id, list(user_ids))
        return await self._keys_of(conn, organisation_id, list(user_ids))

    async def _keys_of(
        self, conn: Conn, org: UUID, user_ids: list[UUID]
    ) -> dict[UUID, bytes | None]:
        erased = await erased_among(conn, org, user_ids)
        found = await self.keys.data_keys(conn, org, [u for u in user_ids if u not in erased])
        return {user_id: found.get(user_id) for user_id in user_ids}

    def forget(self, organisation_id: UUID, user_id: UUID) -> None:
        pass  # nothing kept in memory


async def count_wrapped(database_url: str) -> int:
    async with await AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute("SELECT count(*) FROM directory.person_keys")
        row = await cursor.fetchone()
        return int(row[0]) if row else 0


async def rewrap_all(
    database_url: str, keyring: LocalKeyring, on_rewrapped: Callable[[int], object] = print,
    batch_size: int = 500,
) -> int:  # fmt: skip
    """Wrap every data key under the keyring's current key-encryption key, a batch per
    transaction (interrupted, it carries on where it stopped); how many were rewrapped."""
    done = 0
    async with await AsyncConnection.connect(database_url) as conn:
        while True:
            async with conn.transaction():
                cursor = await conn.execute(
                    "SELECT organisation_id, user_id, wrapped FROM directory.person_keys"
                    " WHERE split_part(wrapped, '.', 1) <> %s LIMIT %s FOR UPDATE SKIP LOCKED",
                    (keyring.current, batch_size),
                )
                rows = await cursor.fetchall()
                if not rows:
                    return done
                await conn.cursor().executemany(
                    "UPDATE directory.person_keys SET wrapped = %s"
                    " WHERE organisation_id = %s AND user_id = %s",
                    [(keyring.rewrap(wrapped, owner(org, user)), org, user)
                     for org, user, wrapped in rows],
                )  # fmt: skip
            done += len(rows)
            on_rewrapped(len(rows))


async def key_ids_in_use(database_url: str) -> set[str]:
    async with await AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute(
            "SELECT DISTINCT split_part(wrapped, '.', 1) FROM directory.person_keys"
        )
        return {str(row[0]) for row in await cursor.fetchall()}
