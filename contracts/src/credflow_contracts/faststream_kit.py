"""A typed subscriber kit for FastStream 0.7 (`pip install 'credflow-contracts[faststream]'`).

    subscriber = broker.subscriber(
        Topic("credflow.credentials", declare=False), group_id="rostering",
        auto_offset_reset="earliest", ack_policy=AckPolicy.NACK_ON_ERROR,
    )

    @subscriber(decoder=decode_envelope, filter=EventFilter(event_types={...}))
    async def on_event(envelope: Envelope) -> None: ...      # typed, older versions upcast

    @subscriber(decoder=ignore_body)                         # everything else: skipped
    async def skip() -> None: ...

- `EventFilter` chooses records by their CloudEvents headers alone (tenant, event type, and
  whether this release of the contracts knows the type): the body of a record nobody wants
  is never parsed, and a type added after this release is skipped, as the compatibility
  policy asks.
- `decode_envelope` turns a chosen record into an `Envelope` with its typed event. A record
  that is not a valid credflow event raises `MalformedRecordError`, which names its topic,
  partition and offset; FastStream reports it as a handler error.
- `ignore_body` is the decoder for a catch-all handler: FastStream answers a record that no
  handler's filter takes with an error, and its default decoder would parse the JSON.
- `PersonalData(...).decoder` is `decode_envelope` for a subscriber holding the permission
  `platform:personal-data`: it opens the sealed personal fields (names, emails, numbers,
  comments...) with the keys the directory's data-key API hands out, kept in memory for
  minutes at most. A field of an erased person reads as a placeholder and is named in
  `Envelope.erased`; without the permission the API refuses the keys
  (`PersonalDataRefusedError`). Needs the `sealed` extra and httpx.

See `contracts/examples/faststream_consumer.py` for FastStream's defaults to mind.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any
from uuid import UUID

from faststream.kafka.message import KafkaMessage

from credflow_contracts.catalogue import BY_CE_TYPE, parse_ce_type
from credflow_contracts.envelope import Envelope, EnvelopeError
from credflow_contracts.personal import open_payload, personal_fields, sealed_subjects

ERASED_PLACEHOLDER = "Erased person"


class MalformedRecordError(EnvelopeError):
    """A record on a credflow topic that is not a valid credflow CloudEvent."""


class EventFilter:
    """Takes a record when its headers name a known event type of the wanted ones, of a wanted
    organisation. `event_types` are type names without the version
    (`credflow.credential.submitted`); None takes every type, and every organisation."""

    def __init__(
        self,
        event_types: Collection[str] | None = None,
        organisation_ids: Collection[UUID] | None = None,
    ) -> None:
        self.event_types = None if event_types is None else frozenset(event_types)
        self.tenants = None if organisation_ids is None else {str(o) for o in organisation_ids}

    def __call__(self, message: KafkaMessage) -> bool:
        headers = message.headers
        ce_type, tenant = headers.get("ce_type"), headers.get("ce_tenantid")
        if ce_type is None or tenant is None or ce_type not in BY_CE_TYPE:
            return False  # not a credflow event, or a type this release does not know
        if self.event_types is not None and parse_ce_type(ce_type)[0] not in self.event_types:
            return False
        return self.tenants is None or tenant in self.tenants


async def decode_envelope(message: KafkaMessage) -> Envelope:
    """FastStream decoder: the record as an `Envelope`, its event typed (older versions
    upcast to the current model). For single-record subscribers (not `batch=True`)."""
    record = message.raw_message
    if isinstance(record, tuple):
        raise TypeError("decode_envelope reads one record at a time; subscribe without batch")
    try:
        return Envelope.from_kafka(message.body, record.headers)
    except EnvelopeError as exc:
        where = f"{record.topic}:{record.partition}@{record.offset}"
        raise MalformedRecordError(f"not a credflow event at {where}: {exc}") from exc


async def ignore_body(message: KafkaMessage) -> Any:
    """FastStream decoder for a catch-all handler: the body is not read."""
    return None


class PersonalDataRefusedError(PermissionError):
    """The data-key API refused this subscriber the keys (no `platform:personal-data`)."""


class PersonalData:
    """Opens sealed personal fields with keys from the directory's data-key API
    (`POST /organisations/{org}/data-keys`, up to 1,000 people a call), each kept in memory
    for `ttl_s` at most. `token` is a bearer token holding `platform:personal-data` (or a
    function returning a fresh one)."""

    def __init__(
        self,
        directory_url: str,
        token: str | Callable[[], str],
        ttl_s: float = 300.0,
        client: Any = None,
    ) -> None:
        import httpx

        self.token = token
        self.ttl_s = ttl_s
        self.client = client or httpx.AsyncClient(base_url=directory_url, timeout=10)
        self._keys: dict[tuple[UUID, UUID], tuple[float, bytes | None]] = {}

    async def keys_of(
        self, organisation_id: UUID, people: Collection[UUID]
    ) -> dict[UUID, bytes | None]:
        now = time.monotonic()
        found = {p: hit[1] for p in people
                 if (hit := self._keys.get((organisation_id, p))) and hit[0] > now}  # fmt: skip
        missing = [p for p in people if p not in found]
        for start in range(0, len(missing), 1000):
            chunk = missing[start : start + 1000]
            token = self.token() if callable(self.token) else self.token
            response = await self.client.post(
                f"/organisations/{organisation_id}/data-keys",
                json={"user_ids": [str(p) for p in chunk]},
                headers={"Authorization": f"Bearer {token}"},
            )
            if response.status_code in (401, 403):
                raise PersonalDataRefusedError(response.json().get("detail", "refused"))
            response.raise_for_status()
            keys = response.json()["keys"]
            for person in chunk:
                raw = keys.get(str(person))
                key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)) if raw else None
                found[person] = key
                self._keys[(organisation_id, person)] = (now + self.ttl_s, key)
        return found

    async def open(self, value: bytes, headers: Any) -> Envelope:
        """The record as an `Envelope`, its personal fields opened."""
        attrs = {name: raw.decode() for name, raw in headers if raw is not None}
        ce_type, tenant = attrs.get("ce_type", ""), attrs.get("ce_tenantid", "")
        if not personal_fields(ce_type) or not tenant:
            return Envelope.from_kafka(value, headers)
        payload = json.loads(value)
        keys = await self.keys_of(UUID(tenant), sealed_subjects(ce_type, payload))
        opened = open_payload(ce_type, UUID(attrs["ce_id"]), payload, keys.get,
                              ERASED_PLACEHOLDER)  # fmt: skip
        envelope = Envelope.from_kafka(value, headers, lambda *_: opened.payload)
        return dataclasses.replace(envelope, erased=frozenset(opened.erased))

    @property
    def decoder(self) -> Callable[[KafkaMessage], Awaitable[Envelope]]:
        """A FastStream decoder like `decode_envelope`, with personal fields opened."""

        async def decode(message: KafkaMessage) -> Envelope:
            record = message.raw_message
            if isinstance(record, tuple):
                raise TypeError("the decoder reads one record at a time; subscribe without batch")
            try:
                return await self.open(message.body, record.headers)
            except (EnvelopeError, ValueError) as exc:
                where = f"{record.topic}:{record.partition}@{record.offset}"
                raise MalformedRecordError(f"not a credflow event at {where}: {exc}") from exc

        return decode
