"""The catalogue: every event type and version we publish, and how old versions are read.

This is the one explicit list (no registry filled by import side effects). Adding a type means
adding its class here; a new major version means adding the class and an upcaster from the
previous version.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from credflow_contracts.events import (
    commands,
    credentials,
    directory,
    erasures,
    imports,
    reminders,
)
from credflow_contracts.events.base import Event

ALL_VERSIONS: tuple[type[Event], ...] = (
    credentials.CredentialSubmittedV1,
    credentials.CredentialSubmitted,
    credentials.VersionAdded,
    credentials.CredentialVersionEdited,
    credentials.MediaAttached,
    credentials.MediaRemoved,
    credentials.CredentialDeleted,
    credentials.CredentialRevoked,
    credentials.CredentialSuspended,
    credentials.CredentialReinstated,
    credentials.ReviewRequested,
    credentials.ReviewClaimed,
    credentials.ReviewReleased,
    credentials.CredentialAccepted,
    credentials.CredentialValidated,
    credentials.CredentialRejected,
    credentials.CredentialExpired,
    reminders.ReminderSent,
    imports.ImportCompleted,
    imports.ImportRowRefused,
    directory.OrganisationCreated,
    directory.OrganisationSettingsChanged,
    directory.UserCreated,
    directory.UserUpdated,
    directory.PersonErased,
    directory.CompanyCreated,
    directory.CompanyUpdated,
    directory.GroupCreated,
    directory.GroupUpdated,
    directory.CredentialTypeCreated,
    directory.CredentialTypeUpdated,
    directory.RequirementAdded,
    directory.RequirementRemoved,
    directory.AssessmentDefined,
    directory.AssessmentAnswered,
    commands.SubmitCredential,
    erasures.ErasureReported,
)

BY_CE_TYPE: Mapping[str, type[Event]] = {cls.ce_type(): cls for cls in ALL_VERSIONS}

CURRENT: Mapping[str, type[Event]] = {
    cls.TYPE: cls
    for cls in sorted(ALL_VERSIONS, key=lambda c: c.VERSION)  # the highest version wins
}
"""Event type name -> the model readers get (its newest major version)."""

Payload = dict[str, Any]


def _credential_submitted_v1_to_v2(data: Payload) -> Payload:
    """v2 structures the issuer and the certification number; v1 had plain strings."""
    upgraded = dict(data)
    issuer = upgraded.pop("issuer", None)
    number = upgraded.pop("certification_number", None)
    upgraded["issuer"] = {"name": issuer} if issuer else None
    upgraded["certification"] = {"number": number} if number else None
    upgraded.setdefault("version_number", 1)
    return upgraded


UPCASTERS: Mapping[tuple[str, int], Callable[[Payload], Payload]] = {
    ("credflow.credential.submitted", 1): _credential_submitted_v1_to_v2,
}
"""(type, version) -> function turning that version's JSON into the next version's JSON."""


class UnknownEventTypeError(LookupError):
    """The record's `ce_type` is not one this version of the contracts knows."""


def parse_ce_type(ce_type: str) -> tuple[str, int]:
    name, _, version = ce_type.rpartition(".v")
    if not name or not version.isdigit():
        raise UnknownEventTypeError(f"malformed event type {ce_type!r} (expected '<name>.v<N>')")
    return name, int(version)


def read_event_json(ce_type: str, raw: bytes) -> Event:
    """Like `read_event`, from the JSON bytes: current versions are parsed in one pass."""
    name, version = parse_ce_type(ce_type)
    current = CURRENT.get(name)
    if current is not None and version == current.VERSION:
        return current.model_validate_json(raw)
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("event data must be a JSON object")
    return read_event(ce_type, data)


def read_event(ce_type: str, data: Payload) -> Event:
    """Parse `data` of `ce_type` into the current model of that event type, upcasting as needed."""
    name, version = parse_ce_type(ce_type)
    current = CURRENT.get(name)
    if current is None or f"{name}.v{version}" not in BY_CE_TYPE:
        raise UnknownEventTypeError(f"unknown event type {ce_type!r}")
    while version < current.VERSION:
        data = UPCASTERS[(name, version)](data)
        version += 1
    return current.model_validate(data)
