"""Which fields of each event are personal, and sealing or opening them in an event's JSON
payload (ADR 0017).

`PERSONAL_FIELDS` names, per event type, the paths of its personal fields: `user.name`, a
nested field; `media[].file_name`, a field of every element of a list. A writer seals them
with the data key of the person they are about (`seal_payload`); a reader opens them with the
key named by each sealed value's `subject` (`open_payload`). A reader without the key (the
person was erased, or the reader may not have it) gets the field as `None` and the path in
`erased`; a field that is plain (written before sealing, or by a test) passes through as it is.

Ids, dates, statuses and types are never personal: subscribers filter and join on them
without any key.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from credflow_contracts.sealed import seal_many, unseal_bound

Payload = dict[str, Any]

_VERSION_FIELDS = (
    "title", "certification.number", "issuer.name", "issuer.registration_id", "notes",
    "media[].file_name",
)  # fmt: skip

PERSONAL_FIELDS: Mapping[str, tuple[str, ...]] = {
    "credflow.directory.user_created": ("user.name", "user.email", "user.legal_hold.reason"),
    "credflow.directory.user_updated": ("user.name", "user.email", "user.legal_hold.reason"),
    "credflow.credential.submitted": _VERSION_FIELDS,
    "credflow.credential.version_added": _VERSION_FIELDS,
    "credflow.credential.version_edited": (
        "certification.number",
        "issuer.name",
        "issuer.registration_id",
        "notes",
    ),
    "credflow.credential.media_attached": ("media.file_name",),
    "credflow.credential.deleted": ("reason",),
    "credflow.credential.revoked": ("reason",),
    "credflow.credential.suspended": ("reason",),
    "credflow.credential.reinstated": ("note",),
    "credflow.credential.validated": ("comment",),
    "credflow.credential.rejected": ("comment",),
    "credflow.submission.submit_credential": (
        "certification.number",
        "issuer.name",
        "issuer.registration_id",
        "notes",
        "media[].file_name",
    ),
}
"""Event type (`TYPE`, every version) -> the paths of its personal fields."""

_SUBJECT_PATHS: Mapping[str, str] = {
    "credflow.directory.user_created": "user.user_id",
    "credflow.directory.user_updated": "user.user_id",
}
"""Where an event names the person its personal fields are about (others: `holder_id`)."""


def subject_of(event_type: str, payload: Payload) -> UUID | None:
    """The person whose data key seals the event's personal fields (None: nobody named)."""
    name = event_type.rsplit(".v", 1)[0] if event_type not in PERSONAL_FIELDS else event_type
    value: Any = payload
    for part in _SUBJECT_PATHS.get(name, "holder_id").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return subject_uuid(str(value)) if value else None


@functools.lru_cache(maxsize=1024)
def personal_fields(event_type: str) -> tuple[str, ...]:
    """The personal paths of an event type, given as `TYPE` or as a CloudEvents type."""
    found = PERSONAL_FIELDS.get(event_type)
    if found is None and ".v" in event_type:
        found = PERSONAL_FIELDS.get(event_type.rsplit(".v", 1)[0])
    return found or ()


@functools.lru_cache(maxsize=65536)
def subject_uuid(text: str) -> UUID:
    """Subjects repeat across a batch's fields and events: parse each once."""
    return UUID(text)


@dataclass
class Opened:
    payload: Payload
    erased: list[str] = field(default_factory=list)
    """The paths of sealed fields that could not be opened (no key: the person was erased)."""


Place = tuple[dict[str, Any], str, str]
"""(container, key, concrete path): where a personal field has a value in a payload."""


@functools.lru_cache(maxsize=256)
def _parts(path: str) -> tuple[tuple[str, bool], ...]:
    """`media[].file_name` -> (("media", True), ("file_name", False)): (name, is a list)."""
    return tuple((part.removesuffix("[]"), part.endswith("[]")) for part in path.split("."))


def _places(payload: Payload, path: str) -> list[Place]:
    """Each place where `path` has a value in `payload`."""
    parts = _parts(path)
    if len(parts) == 1:  # most personal fields sit at the top, or one level down
        return [(payload, path, path)] if payload.get(path) is not None else []
    if len(parts) == 2 and not parts[0][1]:
        inner, name = payload.get(parts[0][0]), parts[1][0]
        if isinstance(inner, dict) and inner.get(name) is not None:
            return [(inner, name, path)]
        return []
    nodes: list[tuple[dict[str, Any], str]] = [(payload, "")]
    last = len(parts) - 1
    found: list[Place] = []
    for index, (name, is_list) in enumerate(parts):
        deeper: list[tuple[dict[str, Any], str]] = []
        for node, prefix in nodes:
            value = node.get(name)
            if value is None:
                continue
            where = prefix + name
            if index == last:
                if not is_list:
                    found.append((node, name, where))
            elif is_list:
                if isinstance(value, list):
                    deeper.extend((item, f"{where}.{position}.")
                                  for position, item in enumerate(value)
                                  if isinstance(item, dict))  # fmt: skip
            elif isinstance(value, dict):
                deeper.append((value, where + "."))
        nodes = deeper
    return found


def _all_places(event_type: str, payload: Payload) -> list[Place]:
    return [place for path in personal_fields(event_type) for place in _places(payload, path)]


def _owned(payload: Payload, paths: tuple[str, ...]) -> Payload:
    """A copy of `payload` that shares nothing along `paths` with it (the rest is shared):
    the writer's and reader's payloads are left as they are, at a fraction of a deep copy."""
    owned = dict(payload)
    for path in paths:
        container: Any = owned
        for part in path.split(".")[:-1]:
            name = part.removesuffix("[]")
            inner = container.get(name) if isinstance(container, dict) else None
            if isinstance(inner, dict):
                container[name] = container = dict(inner)
            elif isinstance(inner, list):
                container[name] = [dict(i) if isinstance(i, dict) else i for i in inner]
                break  # a list's elements are copied; nothing deeper is personal
            else:
                break
    return owned


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 2 and "sealed" in value and "subject" in value


def has_plain_personal_fields(event_type: str, payload: Payload) -> bool:
    """Whether the payload has a personal field still to seal."""
    return any(not is_sealed(c[k]) for c, k, _ in _all_places(event_type, payload))


def seal_payload(
    event_type: str, event_id: UUID, payload: Payload, subject: UUID, data_key: bytes,
    *, copy: bool = True,
) -> Payload:  # fmt: skip
    """`payload` (a copy unless `copy` is False) with each personal field sealed with
    `subject`'s `data_key`, bound to this event and the field's concrete path."""
    sealed = _owned(payload, personal_fields(event_type)) if copy else payload
    places = [p for p in _all_places(event_type, sealed) if not is_sealed(p[0][p[1]])]
    bound, who = f"credflow:{event_id}:", str(subject)
    texts = seal_many(data_key, [(str(c[k]), (bound + where).encode()) for c, k, where in places])
    for (container, key, _), text in zip(places, texts, strict=True):
        container[key] = {"subject": who, "sealed": text}
    return sealed


def replace_fields(event_type: str, payload: Payload, value: str | None) -> Payload:
    """A copy of `payload` with every personal field, sealed or not, replaced by `value`."""
    replaced = _owned(payload, personal_fields(event_type))
    for container, key, _ in _all_places(event_type, replaced):
        container[key] = value
    return replaced


def sealed_subjects(event_type: str, payload: Payload) -> set[UUID]:
    """The people whose keys opening `payload` needs."""
    return {
        subject_uuid(str(container[key]["subject"]))
        for container, key, _ in _all_places(event_type, payload)
        if is_sealed(container[key])
    }


def open_payload(
    event_type: str,
    event_id: UUID,
    payload: Payload,
    key_of: Callable[[UUID], bytes | None],
    erased_as: str | None = None,
    *,
    copy: bool = True,
) -> Opened:
    """`payload` (a copy unless `copy` is False) with each sealed field opened with its
    subject's key (`key_of`); a field whose key is gone becomes `erased_as` (None: absent)
    and its path is listed in `erased`."""
    opened = Opened(_owned(payload, personal_fields(event_type)) if copy else payload)
    bound = f"credflow:{event_id}:"
    for container, key, where in _all_places(event_type, opened.payload):
        value = container[key]
        if not is_sealed(value):
            continue
        data_key = key_of(subject_uuid(str(value["subject"])))
        if data_key is None:
            container[key] = erased_as
            opened.erased.append(where)
        else:
            container[key] = unseal_bound(data_key, str(value["sealed"]), (bound + where).encode(),
                                          where)  # fmt: skip
    return opened
