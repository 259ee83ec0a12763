"""The Credential aggregate's state, and `evolve(state, event) -> state`: what the recorded
events make of a credential (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal
from uuid import UUID

from credflow_contracts.events.base import Event
from credflow_contracts.events.credentials import (
    CredentialDeleted,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSubmitted,
    CredentialSuspended,
    CredentialVersionEdited,
    MediaAttached,
    MediaRemoved,
    VersionAdded,
)
from credflow_contracts.events.values import Certification, Issuer, MediaFile

# -- state ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    version_id: UUID
    number: int
    issued_on: date
    expires_on: date | None
    certification: Certification | None
    issuer: Issuer | None
    notes: str | None
    media: tuple[MediaFile, ...] = ()
    title: str | None = None


@dataclass(frozen=True)
class Credential:
    credential_id: UUID
    organisation_id: UUID
    holder_id: UUID
    credential_type_id: UUID
    versions: tuple[Version, ...]
    lifecycle: Literal["active", "suspended", "revoked", "deleted"] = "active"

    @property
    def latest(self) -> Version:
        return self.versions[-1]

    def media(self, media_id: UUID) -> tuple[Version, MediaFile] | None:
        for version in self.versions:
            for item in version.media:
                if item.media_id == media_id:
                    return version, item
        return None


# -- evolve -----------------------------------------------------------------------------------


def evolve(state: Credential | None, event: Event) -> Credential | None:
    match event:
        case CredentialSubmitted():
            return Credential(
                credential_id=event.credential_id,
                organisation_id=event.organisation_id,
                holder_id=event.holder_id,
                credential_type_id=event.credential_type_id,
                versions=(_version(event, event.version_number),),
            )
        case VersionAdded():
            assert state is not None
            return replace(state, versions=(*state.versions, _version(event, event.version_number)))
        case CredentialVersionEdited():
            assert state is not None
            latest = replace(
                state.latest,
                issued_on=event.issued_on or state.latest.issued_on,
                expires_on=event.expires_on,
                certification=event.certification,
                issuer=event.issuer,
                notes=event.notes,
            )
            return replace(state, versions=(*state.versions[:-1], latest))
        case MediaAttached():
            assert state is not None
            return _with_version(
                state, event.version_id, lambda v: replace(v, media=(*v.media, event.media))
            )
        case MediaRemoved():
            assert state is not None
            return _with_version(
                state,
                event.version_id,
                lambda v: replace(
                    v, media=tuple(m for m in v.media if m.media_id != event.media_id)
                ),
            )
        case CredentialDeleted():
            assert state is not None
            return replace(state, lifecycle="deleted")
        case CredentialRevoked():
            assert state is not None
            return replace(state, lifecycle="revoked")
        case CredentialSuspended():
            assert state is not None
            return replace(state, lifecycle="suspended")
        case CredentialReinstated():
            assert state is not None
            return replace(state, lifecycle="active")
    return state  # events of other services (reviews) do not change the aggregate


def fold(events: list[Event], state: Credential | None = None) -> Credential | None:
    for event in events:
        state = evolve(state, event)
    return state


def _version(event: CredentialSubmitted | VersionAdded, number: int) -> Version:
    return Version(
        version_id=event.version_id,
        number=number,
        issued_on=event.issued_on,
        expires_on=event.expires_on,
        certification=event.certification,
        issuer=event.issuer,
        notes=event.notes,
        media=tuple(event.media),
        title=event.title,
    )


def _with_version(
    state: Credential, version_id: UUID, change: Callable[[Version], Version]
) -> Credential:
    return replace(
        state,
        versions=tuple(change(v) if v.version_id == version_id else v for v in state.versions),
    )
