"""Which fields of each event are personal, and sealing or opening them in an event's JSON
payload (ADR 0017).

`PERSONAL_FIELDS` names, per event type, the paths of its personal fields: `user.name`, a
nested field; `media[].file_name`, a field of every element of a list. A writer seals them
with the data key of the person they are about (`seal_payload`); a reader opens them with the
key named by each sealed value's `subject` (`open_payload`). A reader without the key (the
person was erased, or the reader may not have it) gets the field as `None` and the path in
`erased`; a field that is plain (written before sealing, or by a test) passes through as it is.

Not yet wired into the event store, the consumers and the subscriber kit (ADR 0017).

Ids, dates, statuses and types are never personal: subscribers filter and join on them
without any key.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from credflow_contracts.sealed import seal_text, unseal_text

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
    return UUID(str(value)) if value else None


def personal_fields(event_type: str) -> tuple[str, ...]:
    """The personal paths of an event type, given as `TYPE` or as a CloudEvents type."""
    found = PERSONAL_FIELDS.get(event_type)
    if found is None and ".v" in event_type:
        found = PERSONAL_FIELDS.get(event_type.rsplit(".v", 1)[0])
    return found or ()


@dataclass
class Opened:
    payload: Payload
    erased: list[str] = field(default_factory=list)
    """The paths of sealed fields that could not be opened (no key: the person was erased)."""


def _places(payload: Payload, path: str) -> list[tuple[dict[str, Any], str, str]]:
    """Each (container, key, concrete path) where `path` has a value in `payload`."""
    found: list[tuple[dict[str, Any], str, str]] = []
    _walk(payload, _parts(path), 0, "", found)
    return found


@functools.lru_cache(maxsize=256)
def _parts(path: str) -> tuple[tuple[str, bool], ...]:
    """`media[].file_name` -> (("media", True), ("file_name", False)): (name, is a list)."""
    return tuple((part.removesuffix("[]"), part.endswith("[]")) for part in path.split("."))


def _walk(
    node: dict[str, Any],
    parts: tuple[tuple[str, bool], ...],
    index: int,
    prefix: str,
    found: list[tuple[dict[str, Any], str, str]],
) -> None:
    name, is_list = parts[index]
    value = node.get(name)
    if value is None:
        return
    where, last = prefix + name, index == len(parts) - 1
    if is_list:
        if isinstance(value, list) and not last:
            for position, item in enumerate(value):
                if isinstance(item, dict):
                    _walk(item, parts, index + 1, f"{where}.{position}.", found)
    elif last:
        found.append((node, name, where))
    elif isinstance(value, dict):
        _walk(value, parts, index + 1, where + ".", found)


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
    return isinstance(value, dict) and set(value) == {"subject", "sealed"}


def has_plain_personal_fields(event_type: str, payload: Payload) -> bool:
    """Whether the payload has a personal field still to seal."""
    return any(
        not is_sealed(container[key])
        for path in personal_fields(event_type)
        for container, key, _ in _places(payload, path)
    )


def seal_payload(
    event_type: str, event_id: UUID, payload: Payload, subject: UUID, data_key: bytes
) -> Payload:
    """A copy of `payload` with each personal field sealed with `subject`'s `data_key`, bound
    to this event and the field's concrete path."""
    paths = personal_fields(event_type)
    sealed = _owned(payload, paths)
    for path in paths:
        for container, key, where in list(_places(sealed, path)):
            value = container[key]
            if is_sealed(value):
                continue
            text = seal_text(data_key, str(value), event_id, where)
            container[key] = {"subject": str(subject), "sealed": text}
    return sealed


def replace_fields(event_type: str, payload: Payload, value: str | None) -> Payload:
    """A copy of `payload` with every personal field, sealed or not, replaced by `value`."""
    replaced = _owned(payload, personal_fields(event_type))
    for path in personal_fields(event_type):
        for container, key, _ in list(_places(replaced, path)):
            container[key] = value
    return replaced


def sealed_subjects(event_type: str, payload: Payload) -> set[UUID]:
    """The people whose keys opening `payload` needs."""
    return {
        UUID(str(container[key]["subject"]))
        for path in personal_fields(event_type)
        for container, key, _ in _places(payload, path)
        if is_sealed(container[key])
    }


def open_payload(
    event_type: str,
    event_id: UUID,
    payload: Payload,
    key_of: Callable[[UUID], bytes | None],
    erased_as: str | None = None,
) -> Opened:
    """A copy of `payload` with each sealed field opened with its subject's key (`key_of`);
    a field whose key is gone becomes `erased_as` (None: absent) and its path is listed in
    `erased`."""
    paths = personal_fields(event_type)
    opened = Opened(_owned(payload, paths))
    for path in paths:
        for container, key, where in list(_places(opened.payload, path)):
            value = container[key]
            if not is_sealed(value):
                continue
            data_key = key_of(UUID(str(value["subject"])))
            if data_key is None:
                container[key] = erased_as
                opened.erased.append(where)
            else:
                container[key] = unseal_text(data_key, str(value["sealed"]), event_id, where)
    return opened
