"""The Credential aggregate, as a decider: `decide(command, state, context) -> events` and
`evolve(state, event) -> state`, pure functions with no I/O.

The state and `evolve` live in `state.py`, the commands in `intents.py`; both are
re-exported here, so callers name everything through `domain`.

A credential has one holder, one type and an ordered list of versions; the latest version is
the one that counts. Revocation is final; suspension can be lifted. A deleted credential takes
no further commands.
"""

from __future__ import annotations

from datetime import date

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
from credflow_contracts.events.values import Certification, Issuer
from credflow_submission.intents import (
    AddVersion as AddVersion,
)
from credflow_submission.intents import (
    AttachMedia as AttachMedia,
)
from credflow_submission.intents import (
    Command as Command,
)
from credflow_submission.intents import (
    Delete as Delete,
)
from credflow_submission.intents import (
    EditLatest as EditLatest,
)
from credflow_submission.intents import (
    HolderInfo as HolderInfo,
)
from credflow_submission.intents import (
    Reinstate as Reinstate,
)
from credflow_submission.intents import (
    RemoveMedia as RemoveMedia,
)
from credflow_submission.intents import (
    Revoke as Revoke,
)
from credflow_submission.intents import (
    Submit as Submit,
)
from credflow_submission.intents import (
    Suspend as Suspend,
)
from credflow_submission.intents import (  # re-exported: the decider's inputs
    TypeRules as TypeRules,
)
from credflow_submission.intents import (
    VersionDetails as VersionDetails,
)
from credflow_submission.state import (
    Credential as Credential,
)
from credflow_submission.state import (  # re-exported: the aggregate's state
    Version as Version,
)
from credflow_submission.state import (
    evolve as evolve,
)
from credflow_submission.state import (
    fold as fold,
)

# -- errors -----------------------------------------------------------------------------------


CredentialError = DomainError


class TransitionError(ConflictError):
    """The command makes no sense in the credential's current state."""


# -- rules ------------------------------------------------------------------------------------


def _require_calendar(day: date | None, where: str) -> None:
    """Every date a command carries is inside the calendar (commands from an import too)."""
    if day is not None and not within_calendar(day):
        raise InvalidError(f"{day.isoformat()} is not a date {CALENDAR_RANGE}", where)


def effective_expiry(issued_on: date, expires_on: date | None, rules: TypeRules) -> date | None:
    """The expiry to record: as given, or computed from the type's default validity. A type
    that does not expire takes an expiry date only when one is given (an external certificate
    may carry its own)."""
    _require_calendar(issued_on, "issued_on")
    _require_calendar(expires_on, "expires_on")
    if not rules.expires and expires_on is None:
        return None
    if expires_on is None:
        if rules.default_validity_months is None:
            raise InvalidError(
                "this credential type expires: give the expiration date", "expires_on"
            )
        try:
            expires_on = add_months(issued_on, rules.default_validity_months)
        except ValueError:
            raise InvalidError(
                f"the expiry computed from the type's validity of "
                f"{rules.default_validity_months} months would be after {LATEST_DATE.isoformat()}:"
                " give the expiration date",
                "issued_on",
            ) from None
    if expires_on <= issued_on:
        raise InvalidError("the expiration date must be after the issue date", "expires_on")
    return expires_on


def _check_new_details(
    details: VersionDetails, rules: TypeRules, holder: HolderInfo, imported: bool
) -> date | None:
    """`imported`: rows of an import, whose files the importer checks itself (its media step,
    or the uploader marked media optional to add it later)."""
    if rules.archived:
        raise InvalidError(
            "this credential type is archived and accepts no new credentials",
            "credential_type_id",
        )
    if not holder.active:
        raise InvalidError("the holder is deactivated", "holder_id")
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
                raise InvalidError("the issue date cannot be removed", "issued_on")
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
                    holder_id=current.holder_id,
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
                    holder_id=current.holder_id,
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
                    holder_id=state.holder_id,
                )
            ]
        case Suspend():
            state = _existing(state)
            _require_calendar(command.until, "until")
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
                    holder_id=state.holder_id,
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
                    holder_id=state.holder_id,
                    note=command.note,
                )
            ]
    raise TypeError(f"unknown command {command!r}")
