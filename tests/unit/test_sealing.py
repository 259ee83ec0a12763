"""The runtime's sealing: the event store's payloads sealed with each holder's key (a person
whose key is gone written as "Erased person"), and a consumer's batch read with the keys of
every person it names fetched in one call per organisation."""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from credflow_common.sealing import ERASED_TEXT, Sealing, ToSeal, read_all
from credflow_contracts.envelope import Envelope, Opener
from credflow_contracts.ids import uuid7
from tests.factories import ORG, credential_submitted


class Keys:
    def __init__(self, erased: Collection[UUID] = ()) -> None:
        self.keys: dict[UUID, bytes] = {}
        self.erased = set(erased)
        self.calls: list[int] = []

    async def keys_of(self, org: UUID, user_ids: Collection[UUID], conn: Any = None
                      ) -> dict[UUID, bytes | None]:  # fmt: skip
        self.calls.append(len(user_ids))
        return {u: None if u in self.erased else self.keys.setdefault(u, os.urandom(32))
                for u in user_ids}  # fmt: skip

    def forget(self, organisation_id: UUID, user_id: UUID) -> None:
        self.keys.pop(user_id, None)


@dataclass
class Record:
    value: bytes
    headers: list[tuple[str, bytes]]


async def sealed_records(sealing: Sealing, count: int, erased: UUID | None = None
                         ) -> list[Record]:  # fmt: skip
    events = [credential_submitted(holder_id=erased if n == 0 and erased else None,
                                   notes=f"note {n}") for n in range(count)]  # fmt: skip
    envelopes = [Envelope(event, "/credflow/test", ORG) for event in events]
    payloads = await sealing.seal([ToSeal(e.type, e.id, ORG, e.event.model_dump(mode="json"))
                                   for e in envelopes])  # fmt: skip
    records = []
    for envelope, payload in zip(envelopes, payloads, strict=True):
        record = envelope.to_kafka(payload)
        records.append(Record(record.value, record.headers))
    return records


async def test_a_batch_opens_with_one_key_call_and_an_erased_person_reads_erased() -> None:
    erased = uuid7()
    source = Keys(erased=[erased])
    sealing = Sealing(source)
    records = await sealed_records(sealing, 50, erased)
    assert all(b"note " not in r.value for r in records), "sealed on the wire"
    assert json.loads(records[0].value)["notes"] == ERASED_TEXT, "no key: nothing to seal"
    source.calls.clear()

    async def read(record: Record, opener: Opener | None) -> Envelope:
        return Envelope.from_kafka(record.value, record.headers, opener)

    read_back = await read_all(records, read, sealing)
    assert source.calls == [49], "one call for the 49 people the batch names"
    notes = [getattr(e.event, "notes", None) for e in read_back]
    assert notes == [ERASED_TEXT, *(f"note {n}" for n in range(1, 50))]

    plain = [Envelope.from_kafka(r.value, r.headers) for r in records[1:3]]
    assert all(e.sealed >= {"notes", "certification.number"} for e in plain)
    assert {getattr(e.event, "notes", None) for e in plain} == {"(sealed)"}
