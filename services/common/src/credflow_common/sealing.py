"""Sealing personal fields as events are written, opening them as they are read (ADR 0017).

An event store with `Sealing` seals each event's personal fields
(`credflow_contracts.personal`) with the data key of the person they are about before the
event reaches its table, its outbox and Kafka; a consumer with it opens them before its
handler sees the event. Keys come from a `KeySource`: the directory's own key store in the
directory, its data-key API everywhere else (`data_keys.DataKeys`), fetched once per batch for
every person the batch names. A person whose key is gone (erased) reads as `ERASED_TEXT`.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from uuid import UUID

from psycopg import AsyncConnection
from pydantic_core import to_json
from pydantic_settings import BaseSettings, SettingsConfigDict

from credflow_contracts.envelope import Opener
from credflow_contracts.events.directory import PersonErased
from credflow_contracts.personal import (
    open_payload,
    replace_fields,
    seal_payload,
    sealed_subjects,
    subject_of,
    subject_uuid,
)

ERASED_TYPE = PersonErased.ce_type().encode()
ERASED_TEXT = "Erased person"
"""What a sealed field reads as once its person's key is gone."""
Payload = dict[str, Any]
Keys = dict[tuple[UUID, UUID], bytes | None]
Conn = AsyncConnection[Any]
Record = TypeVar("Record")
Item = TypeVar("Item")


class SealingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDFLOW_", env_file=".env", extra="ignore")

    sealing: bool = True
    """Seal personal fields (always in production; tests that run a service without a
    directory to ask for keys turn it off)."""


def sealing_on(environment: str) -> bool:
    """Whether personal fields are sealed (`CREDFLOW_SEALING`; always in production)."""
    if SealingSettings().sealing:
        return True
    if environment == "production":
        raise RuntimeError(
            "personal fields are always sealed in production: unset CREDFLOW_SEALING"
        )
    return False


def remote_sealing(environment: str) -> Sealing | None:
    """Sealing with keys from the directory's data-key API, or None when sealing is off."""
    from credflow_common.auth import AuthSettings
    from credflow_common.data_keys import DataKeys, DataKeySettings

    if not sealing_on(environment):
        return None
    return Sealing(DataKeys(DataKeySettings(), AuthSettings().for_environment(environment)))


class KeySource(Protocol):
    async def keys_of(
        self, organisation_id: UUID, user_ids: Collection[UUID], conn: Conn | None = None
    ) -> dict[UUID, bytes | None]:
        """The people's data keys (None: erased or unknown); `conn`, the caller's transaction
        (a source in the same database may use it)."""
        ...

    def forget(self, organisation_id: UUID, user_id: UUID) -> None:
        """Drop the person's key from memory at once (they were erased)."""
        ...


class KeysNeededError(Exception):
    """Opening a payload needs keys not fetched yet."""

    def __init__(self, organisation_id: UUID, subjects: set[UUID]) -> None:
        super().__init__(f"{len(subjects)} keys needed")
        self.organisation_id, self.subjects = organisation_id, subjects


@dataclass(frozen=True)
class ToSeal:
    event_type: str
    event_id: UUID
    organisation_id: UUID
    payload: Payload


class Sealing:
    def __init__(self, source: KeySource) -> None:
        self.source = source

    async def fetch(
        self, wanted: dict[UUID, set[UUID]], keys: Keys, conn: Conn | None = None
    ) -> None:
        """Add to `keys` those of the `wanted` people (organisation -> people) it lacks."""
        for org, people in wanted.items():
            missing = [person for person in people if (org, person) not in keys]
            if missing:
                for person, key in (await self.source.keys_of(org, missing, conn)).items():
                    keys[(org, person)] = key

    async def seal(self, items: Sequence[ToSeal], conn: Conn | None = None) -> list[bytes]:
        """Each payload (of an event type with personal fields) as JSON, those fields sealed (in
        the payload itself: pass a payload of your own). A field of a person whose key is gone
        is written as `ERASED_TEXT`."""
        subjects = [subject_of(item.event_type, item.payload) for item in items]
        wanted: dict[UUID, set[UUID]] = defaultdict(set)
        for item, subject in zip(items, subjects, strict=True):
            if subject is None:
                raise ValueError(f"{item.event_type} names nobody to seal its fields for")
            wanted[item.organisation_id].add(subject)
        keys: Keys = {}
        await self.fetch(wanted, keys, conn)
        sealed = []
        for item, subject in zip(items, subjects, strict=True):
            assert subject is not None  # checked above
            key = keys.get((item.organisation_id, subject))
            payload = (
                seal_payload(item.event_type, item.event_id, item.payload, subject, key, copy=False)
                if key is not None
                else replace_fields(item.event_type, item.payload, ERASED_TEXT)
            )
            sealed.append(to_json(payload))
        return sealed

    async def open_all(self, items: Sequence[ToSeal], conn: Conn | None = None) -> list[Payload]:
        """Each payload with its sealed fields opened (in the payload itself)."""
        wanted: dict[UUID, set[UUID]] = defaultdict(set)
        for item in items:
            wanted[item.organisation_id] |= sealed_subjects(item.event_type, item.payload)
        keys: Keys = {}
        await self.fetch(wanted, keys, conn)
        opener = opener_with(keys)
        return [opener(i.event_type, i.event_id, i.organisation_id, i.payload) for i in items]


async def read_all(
    records: Sequence[Record], read: Callable[[Record, Opener | None], Awaitable[Item]],
    sealing: Sealing | None,
) -> list[Item]:  # fmt: skip
    """`read` each record (a consumer's batch), opening sealed fields with keys fetched once
    for all the people the batch names: a first pass learns whom, a second reads the records
    that needed them."""
    if sealing is None:
        return [await read(record, None) for record in records]
    named, erased = _scan(records)
    for org, person in erased:
        sealing.source.forget(org, person)
    keys: Keys = {}
    await sealing.fetch(named, keys)
    opener = opener_with(keys)
    wanted: dict[UUID, set[UUID]] = defaultdict(set)
    read_now: list[tuple[Item] | None] = []  # None: read again once the keys are here
    for record in records:
        try:
            read_now.append((await read(record, opener),))
        except KeysNeededError as exc:
            read_now.append(None)
            wanted[exc.organisation_id] |= exc.subjects
    await sealing.fetch(wanted, keys)
    return [
        item[0] if item is not None else await read(record, opener)
        for item, record in zip(read_now, records, strict=True)
    ]


_SUBJECT = re.compile(rb'"subject": ?"([0-9a-f-]{36})"')


def _scan(records: Sequence[Any]) -> tuple[dict[UUID, set[UUID]], list[tuple[UUID, UUID]]]:
    """From the records' bytes, without parsing them: the people whose keys their sealed fields
    name (organisation -> people; a record this misses is read twice, never wrongly), and the
    people a `PersonErased` among them erased (their keys are dropped at once)."""
    named: dict[UUID, set[UUID]] = defaultdict(set)
    erased: list[tuple[UUID, UUID]] = []
    for record in records:
        value = getattr(record, "value", None)
        if not value:
            continue
        headers = dict(getattr(record, "headers", ()))
        if b'"sealed"' in value and (tenant := headers.get("ce_tenantid")):
            named[subject_uuid(tenant.decode())].update(
                subject_uuid(found.decode()) for found in set(_SUBJECT.findall(value))
            )
        if headers.get("ce_type") == ERASED_TYPE:
            event = json.loads(value)
            erased.append((UUID(event["organisation_id"]), UUID(event["user_id"])))
    return named, erased


class _KeyMissingError(Exception):
    pass


def opener_with(keys: Keys) -> Opener:
    """An `Opener` that opens with `keys` (in the payload itself) and raises
    `KeysNeededError` for any it lacks."""

    def opener(event_type: str, event_id: UUID, tenant: UUID, payload: Payload) -> Payload:
        def key_of(subject: UUID) -> bytes | None:
            try:
                return keys[(tenant, subject)]
            except KeyError:
                raise _KeyMissingError from None

        try:
            return open_payload(event_type, event_id, payload, key_of, ERASED_TEXT,
                                copy=False).payload  # fmt: skip
        except _KeyMissingError:
            needed = {s for s in sealed_subjects(event_type, payload) if (tenant, s) not in keys}
            raise KeysNeededError(tenant, needed) from None

    return opener
