"""The Credential aggregate, as a decider: `decide(command, state, context) -> events` and
`evolve(state, event) -> state`, pure functions with no I/O.

A credential has one holder, one type and an ordered list of versions; the latest version is
the one that counts. Revocation is final; suspension can be lifted. A deleted credential takes
no further commands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal
from uuid import UUID

from credflow_common.errors import (  # re-exported: the domain's refusals
    ConflictError as ConflictError,
)
from credflow_common.errors import (
    DomainError as DomainError,
)
from credflow_common.errors import (
    InvalidError as InvalidError,
)
from credflow_common.errors import (
    NotFoundError as NotFoundError,
)
from credflow_contracts.dates import CALENDAR_RANGE, LATEST_DATE, add_months, within_calendar
from credflow_contracts.events.base import Event
from credflow_contracts.events.credentials import (
    CredentialDeleted,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSubmitted,
    CredentialSuspended,
    CredentialVersionEdited,
    EditableField,
    MediaAttached,
    MediaRemoved,
    VersionAdded,
)
from credflow_contracts.events.values import Certification, Issuer, MediaFile

# -- errors -----------------------------------------------------------------------------------


CredentialError = DomainError


class TransitionError(ConflictError):
    """The command makes no sense in the credential's current state."""


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


# -- what decisions need to know from the directory ---------------------------------------------


@dataclass(frozen=True)
class TypeRules:
    expires: bool
    default_validity_months: int | None = None
    archived: bool = False
    media_required: bool = False


@dataclass(frozen=True)
class HolderInfo:
    active: bool


# -- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionDetails:
    issued_on: date
    expires_on: date | None = None
    certification: Certification | None = None
    issuer: Issuer | None = None
    notes: str | None = None
    media: tuple[MediaFile, ...] = ()
    title: str | None = None


@dataclass(frozen=True)
class Submit:
    credential_id: UUID
    organisation_id: UUID
    holder_id: UUID
    credential_type_id: UUID
    version_id: UUID
    details: VersionDetails
    by: UUID
    import_id: UUID | None = None


@dataclass(frozen=True)
class AddVersion:
    version_id: UUID
    details: VersionDetails
    by: UUID
    import_id: UUID | None = None


@dataclass(frozen=True)
class EditLatest:
    by: UUID
    changes: dict[EditableField, object] = field(default_factory=dict)


@dataclass(frozen=True)
class AttachMedia:
    media: MediaFile
    by: UUID


@dataclass(frozen=True)
class RemoveMedia:
    media_id: UUID
    by: UUID


@dataclass(frozen=True)
class Delete:
    by: UUID
    reason: str | None = None


@dataclass(frozen=True)
class Revoke:
    reason: str
    by: UUID


@dataclass(frozen=True)
class Suspend:
    reason: str
    by: UUID
    until: date | None = None


@dataclass(frozen=True)
class Reinstate:
    by: UUID
    note: str | None = None


Command = (
    Submit
    | AddVersion
    | EditLatest
    | AttachMedia
    | RemoveMedia
    | Delete
    | Revoke
    | Suspend
    | Reinstate
)


# -- rules ------------------------------------------------------------------------------------


def _require_calendar(day: date | None, where: str) -> None:
    """Every date a command carries is inside the calendar (commands from an import too)."""
    if day is not None and not within_calendar(day):
        raise InvalidError(f"{day.isoformat()} is not a date {CALENDAR_RANGE}", where)


def effective_expiry(issued_on: date, expires_on: date | None, rules: TypeRules) -> date | None:
    """The expiry to record: as given, or computed from the type's default validity. A type
    that does not expire takes an expiry date only when one is given (an external certificate
    may carry its own)."""
    _require_calendar(issued_on, "body.issued_on")
    _require_calendar(expires_on, "body.expires_on")
    if not rules.expires and expires_on is None:
        return None
    if expires_on is None:
        if rules.default_validity_months is None:
            raise InvalidError(
                "this credential type expires: give the expiration date", "body.expires_on"
            )
        try:
            expires_on = add_months(issued_on, rules.default_validity_months)
        except ValueError:
            raise InvalidError(
                f"the expiry computed from the type's validity of "
                f"{rules.default_validity_months} months would be after {LATEST_DATE.isoformat()}:"
                " give the expiration date",
                "body.issued_on",
            ) from None
    if expires_on <= issued_on:
        raise InvalidError("the expiration date must be after the issue date", "body.expires_on")
    return expires_on


def _check_new_details(
    details: VersionDetails, rules: TypeRules, holder: HolderInfo, imported: bool
) -> date | None:
    """`imported`: rows of an import, whose files the importer checks itself (its media step,
    or the uploader marked media optional to add it later)."""
    if rules.archived:
        raise InvalidError(
            "this credential type is archived and accepts no new credentials",
            "body.credential_type_id",
        )
    if not holder.active:
        raise InvalidError("the holder is deactivated", "body.holder_id")
    if rules.media_required and not details.media and not imported:
        raise InvalidError("this credential type needs a file (a photo or a PDF)", "files")
    return effective_expiry(details.issued_on, details.expires_on, rules)


def _existing(state: Credential | None) -> Credential:
    """The credential, unless it does not exist or was deleted (both: 404)."""
    if state is None or state.lifecycle == "deleted":
        raise NotFoundError("no such credential")
    return state


def _needs(rules: TypeRules | None, holder: HolderInfo | None) -> tuple[TypeRules, HolderInfo]:
    if rules is None or holder is None:
        raise ValueError("this command needs the credential type's rules and the holder")
    return rules, holder


def _require_changeable(state: Credential | None, action: str) -> Credential:
    if state is None:
        raise NotFoundError("no such credential")
    if state.lifecycle == "deleted":
        raise TransitionError(f"the credential was deleted; it cannot {action}")
    if state.lifecycle == "revoked":
        raise TransitionError(f"the credential is revoked; it cannot {action}")
    if state.lifecycle == "suspended":
        raise TransitionError(f"the credential is suspended; reinstate it before it can {action}")
    return state


# -- decide -----------------------------------------------------------------------------------


def decide(
    command: Command,
    state: Credential | None,
    rules: TypeRules | None = None,
    holder: HolderInfo | None = None,
) -> list[Event]:
    """The events `command` causes on `state`. `rules` (the credential type) and `holder` are
    needed by commands that create a version."""
    match command:
        case Submit():
            if state is not None:
                raise TransitionError("this credential already exists")
            expires_on = _check_new_details(
                command.details, *_needs(rules, holder), command.import_id is not None
            )
            details = command.details
            return [
                CredentialSubmitted(
                    credential_id=command.credential_id,
                    organisation_id=command.organisation_id,
                    holder_id=command.holder_id,
                    credential_type_id=command.credential_type_id,
                    version_id=command.version_id,
                    version_number=1,
                    title=details.title,
                    issued_on=details.issued_on,
                    expires_on=expires_on,
                    certification=details.certification,
                    issuer=details.issuer,
                    notes=details.notes,
                    media=list(details.media),
                    submitted_by=command.by,
                    import_id=command.import_id,
                )
            ]
        case AddVersion():
            current = _require_changeable(state, "get a new version")
            expires_on = _check_new_details(
                command.details, *_needs(rules, holder), command.import_id is not None
            )
            details = command.details
            return [
                VersionAdded(
                    credential_id=current.credential_id,
                    organisation_id=current.organisation_id,
                    holder_id=current.holder_id,
                    credential_type_id=current.credential_type_id,
                    version_id=command.version_id,
                    version_number=current.latest.number + 1,
                    title=details.title,
                    issued_on=details.issued_on,
                    expires_on=expires_on,
                    certification=details.certification,
                    issuer=details.issuer,
                    notes=details.notes,
                    media=list(details.media),
                    added_by=command.by,
                    import_id=command.import_id,
                )
            ]
        case EditLatest():
            current = _require_changeable(state, "be edited")
            rules, _ = _needs(rules, HolderInfo(active=True))
            latest, changes = current.latest, command.changes
            issued_on = changes.get("issued_on", latest.issued_on)
            if not isinstance(issued_on, date):
                raise InvalidError("the issue date cannot be removed", "body.issued_on")
            given_expiry = changes.get("expires_on", latest.expires_on)
            assert given_expiry is None or isinstance(given_expiry, date)
            expires_on = given_expiry
            if "expires_on" in changes or "issued_on" in changes:
                expires_on = effective_expiry(issued_on, given_expiry, rules)
            certification = changes.get("certification", latest.certification)
            issuer = changes.get("issuer", latest.issuer)
            notes = changes.get("notes", latest.notes)
            assert certification is None or isinstance(certification, Certification)
            assert issuer is None or isinstance(issuer, Issuer)
            assert notes is None or isinstance(notes, str)
            after: dict[EditableField, object] = {
                "issued_on": issued_on,
                "expires_on": expires_on,
                "certification": certification,
                "issuer": issuer,
                "notes": notes,
            }
            changed = [name for name, value in after.items() if value != getattr(latest, name)]
            if not changed:
                return []
            return [
                CredentialVersionEdited(
                    credential_id=current.credential_id,
                    organisation_id=current.organisation_id,
                    version_id=latest.version_id,
                    version_number=latest.number,
                    changed=changed,
                    issued_on=issued_on,
                    expires_on=expires_on,
                    certification=certification,
                    issuer=issuer,
                    notes=notes,
                    edited_by=command.by,
                )
            ]
        case AttachMedia():
            current = _require_changeable(state, "get files")
            if current.media(command.media.media_id) is not None:
                raise TransitionError("this file is attached already")
            return [
                MediaAttached(
                    credential_id=current.credential_id,
                    organisation_id=current.organisation_id,
                    version_id=current.latest.version_id,
                    media=command.media,
                    attached_by=command.by,
                )
            ]
        case RemoveMedia():
            state = _existing(state)
            found = state.media(command.media_id)
            if found is None:
                raise NotFoundError("no such file on this credential")
            version, _ = found
            return [
                MediaRemoved(
                    credential_id=state.credential_id,
                    organisation_id=state.organisation_id,
                    version_id=version.version_id,
                    media_id=command.media_id,
                    removed_by=command.by,
                )
            ]
        case Delete():
            if state is None:
                raise NotFoundError("no such credential")
            if state.lifecycle == "deleted":
                raise TransitionError("the credential was deleted already")
            return [
                CredentialDeleted(
                    credential_id=state.credential_id,
                    organisation_id=state.organisation_id,
                    holder_id=state.holder_id,
                    deleted_by=command.by,
                    reason=command.reason,
                )
            ]
        case Revoke():
            state = _existing(state)
            if state.lifecycle == "revoked":
                raise TransitionError("the credential is revoked already")
            return [
                CredentialRevoked(
                    credential_id=state.credential_id,
                    organisation_id=state.organisation_id,
                    reason=command.reason,
                    revoked_by=command.by,
                )
            ]
        case Suspend():
            state = _existing(state)
            _require_calendar(command.until, "body.until")
            if state.lifecycle != "active":
                raise TransitionError(
                    f"only an active credential can be suspended; it is {state.lifecycle}"
                )
            return [
                CredentialSuspended(
                    credential_id=state.credential_id,
                    organisation_id=state.organisation_id,
                    reason=command.reason,
                    suspended_by=command.by,
                    until=command.until,
                )
            ]
        case Reinstate():
            state = _existing(state)
            if state.lifecycle != "suspended":
                raise TransitionError(
                    f"only a suspended credential can be reinstated; it is {state.lifecycle}"
                )
            return [
                CredentialReinstated(
                    credential_id=state.credential_id,
                    organisation_id=state.organisation_id,
                    reinstated_by=command.by,
                    note=command.note,
                )
            ]
    raise TypeError(f"unknown command {command!r}")


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
