"""The directory's decisions, as pure functions: given the current state and a command, which
events happen. No I/O: the service layer loads state, calls these, and stores the events.

Each directory entity (organisation, user, company, group, credential type, requirement,
assessment) is its own small aggregate. Events carry the entity's whole new state, so `evolve`
is "the new state is the one in the event".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar
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
from credflow_contracts.events.base import Event
from credflow_contracts.events.directory import (
    AssessmentAnswered,
    AssessmentDefined,
    AssessmentQuestion,
    CompanyCreated,
    CompanyState,
    CompanyUpdated,
    CredentialTypeCreated,
    CredentialTypeState,
    CredentialTypeUpdated,
    GroupCreated,
    GroupState,
    GroupUpdated,
    OrganisationCreated,
    OrganisationSettings,
    OrganisationSettingsChanged,
    PersonErased,
    RequirementAdded,
    RequirementRemoved,
    RequirementState,
    UserCreated,
    UserState,
    UserUpdated,
)
from credflow_contracts.events.values import Value
from credflow_directory.privacy import (  # re-exported: a person's privacy decisions
    place_legal_hold as place_legal_hold,
)
from credflow_directory.privacy import (
    release_legal_hold as release_legal_hold,
)

DirectoryError = DomainError


State = TypeVar("State", bound=Value)


def changed_fields(before: Value, after: Value) -> list[str]:
    return [
        name for name in type(after).model_fields if getattr(before, name) != getattr(after, name)
    ]


def apply_changes(state: State, changes: Mapping[str, Any]) -> State:
    """A copy of `state` with `changes`, validated like new input."""
    return type(state).model_validate({**state.model_dump(), **changes})


# -- organisations ----------------------------------------------------------------------------


def create_organisation(
    existing: OrganisationSettings | None,
    organisation_id: UUID,
    name: str,
    settings: OrganisationSettings,
) -> list[OrganisationCreated]:
    if existing is not None:
        raise ConflictError(f"organisation {organisation_id} already exists")
    return [OrganisationCreated(organisation_id=organisation_id, name=name, settings=settings)]


def change_settings(
    organisation_id: UUID,
    current: OrganisationSettings,
    changes: Mapping[str, Any],
    changed_by: UUID,
) -> list[OrganisationSettingsChanged]:
    updated = apply_changes(current, changes)
    if updated.reviewer_routing == "reviewer_group" and updated.reviewer_group_id is None:
        raise InvalidError(
            "routing to a reviewer group needs reviewer_group_id", "reviewer_group_id"
        )
    changed = changed_fields(current, updated)
    if not changed:
        return []
    return [
        OrganisationSettingsChanged(
            organisation_id=organisation_id,
            settings=updated,
            changed=changed,
            changed_by=changed_by,
        )
    ]


# -- users ------------------------------------------------------------------------------------


def create_user(
    organisation_id: UUID, existing: UserState | None, user: UserState
) -> list[UserCreated]:
    if existing is not None:
        raise ConflictError(f"user {user.user_id} already exists")
    if user.manager_id == user.user_id:
        raise InvalidError("a user cannot be their own manager", "manager_id")
    return [UserCreated(organisation_id=organisation_id, user=user)]


def update_user(
    organisation_id: UUID, current: UserState | None, changes: Mapping[str, Any]
) -> list[UserUpdated]:
    if current is None:
        raise NotFoundError("no such user")
    updated = apply_changes(current, changes)
    if updated.manager_id == updated.user_id:
        raise InvalidError("a user cannot be their own manager", "manager_id")
    changed = changed_fields(current, updated)
    if not changed:
        return []
    return [UserUpdated(organisation_id=organisation_id, user=updated, changed=changed)]


def deactivate_user(organisation_id: UUID, current: UserState | None) -> list[UserUpdated]:
    if current is None:
        raise NotFoundError("no such user")
    if current.status == "deactivated":
        raise ConflictError("the user is already deactivated")
    return update_user(organisation_id, current, {"status": "deactivated"})


def reactivate_user(organisation_id: UUID, current: UserState | None) -> list[UserUpdated]:
    if current is None:
        raise NotFoundError("no such user")
    if current.status == "active":
        raise ConflictError("the user is already active")
    return update_user(organisation_id, current, {"status": "active"})


# -- companies and groups -----------------------------------------------------------------------


def create_company(
    organisation_id: UUID, existing: CompanyState | None, company: CompanyState
) -> list[CompanyCreated]:
    if existing is not None:
        raise ConflictError(f"company {company.company_id} already exists")
    return [CompanyCreated(organisation_id=organisation_id, company=company)]


def update_company(
    organisation_id: UUID, current: CompanyState | None, changes: Mapping[str, Any]
) -> list[CompanyUpdated]:
    if current is None:
        raise NotFoundError("no such company")
    updated = apply_changes(current, changes)
    if not changed_fields(current, updated):
        return []
    return [CompanyUpdated(organisation_id=organisation_id, company=updated)]


def create_group(
    organisation_id: UUID, existing: GroupState | None, group: GroupState
) -> list[GroupCreated]:
    if existing is not None:
        raise ConflictError(f"group {group.group_id} already exists")
    return [GroupCreated(organisation_id=organisation_id, group=group)]


def update_group(
    organisation_id: UUID, current: GroupState | None, changes: Mapping[str, Any]
) -> list[GroupUpdated]:
    if current is None:
        raise NotFoundError("no such group")
    updated = apply_changes(current, changes)
    if not changed_fields(current, updated):
        return []
    return [GroupUpdated(organisation_id=organisation_id, group=updated)]


# -- credential types ---------------------------------------------------------------------------


def _check_type(credential_type: CredentialTypeState) -> None:
    if not credential_type.expires and credential_type.default_validity_months is not None:
        raise InvalidError(
            "a credential type that does not expire has no default validity",
            "default_validity_months",
        )


def create_credential_type(
    organisation_id: UUID, existing: CredentialTypeState | None, new: CredentialTypeState
) -> list[CredentialTypeCreated]:
    if existing is not None:
        raise ConflictError(f"credential type {new.credential_type_id} already exists")
    _check_type(new)
    return [CredentialTypeCreated(organisation_id=organisation_id, credential_type=new)]


def update_credential_type(
    organisation_id: UUID, current: CredentialTypeState | None, changes: Mapping[str, Any]
) -> list[CredentialTypeUpdated]:
    if current is None:
        raise NotFoundError("no such credential type")
    if current.archived:
        raise ConflictError("the credential type is archived; it cannot change")
    updated = apply_changes(current, changes)
    _check_type(updated)
    changed = changed_fields(current, updated)
    if not changed:
        return []
    return [
        CredentialTypeUpdated(
            organisation_id=organisation_id, credential_type=updated, changed=changed
        )
    ]


def archive_credential_type(
    organisation_id: UUID, current: CredentialTypeState | None
) -> list[CredentialTypeUpdated]:
    if current is None:
        raise NotFoundError("no such credential type")
    if current.archived:
        raise ConflictError("the credential type is already archived")
    archived = current.model_copy(update={"archived": True})
    return [
        CredentialTypeUpdated(
            organisation_id=organisation_id, credential_type=archived, changed=["archived"]
        )
    ]


# -- requirements and assessments ---------------------------------------------------------------


def add_requirement(
    organisation_id: UUID,
    requirement: RequirementState,
    credential_type: CredentialTypeState | None,
    duplicate_of: UUID | None,
) -> list[RequirementAdded]:
    if credential_type is None:
        raise InvalidError("no such credential type", "credential_type_id")
    if credential_type.archived:
        raise InvalidError("the credential type is archived", "credential_type_id")
    if requirement.scope == "company" and requirement.company_id is None:
        raise InvalidError("a company requirement needs company_id", "company_id")
    if requirement.scope == "group" and requirement.group_id is None:
        raise InvalidError("a group requirement needs group_id", "group_id")
    if requirement.scope != "company" and requirement.company_id is not None:
        raise InvalidError(f"company_id does not apply to scope {requirement.scope}", "company_id")
    if requirement.scope != "group" and requirement.group_id is not None:
        raise InvalidError(f"group_id does not apply to scope {requirement.scope}", "group_id")
    if duplicate_of is not None:
        raise ConflictError(f"the same requirement exists already ({duplicate_of})")
    return [RequirementAdded(organisation_id=organisation_id, requirement=requirement)]


def remove_requirement(
    organisation_id: UUID, current: RequirementState | None
) -> list[RequirementRemoved]:
    if current is None:
        raise NotFoundError("no such requirement")
    return [
        RequirementRemoved(organisation_id=organisation_id, requirement_id=current.requirement_id)
    ]


def define_assessment(
    organisation_id: UUID,
    assessment_id: UUID,
    name: str,
    questions: list[AssessmentQuestion],
    known_type_ids: set[UUID],
) -> list[AssessmentDefined]:
    if not questions:
        raise InvalidError("an assessment needs at least one question", "questions")
    seen: set[UUID] = set()
    for index, question in enumerate(questions):
        if question.question_id in seen:
            raise InvalidError("question ids must be unique", f"questions.{index}.question_id")
        seen.add(question.question_id)
        for type_index, type_id in enumerate(question.requires_credential_type_ids):
            if type_id not in known_type_ids:
                raise InvalidError(
                    "no such credential type",
                    f"questions.{index}.requires_credential_type_ids.{type_index}",
                )
    return [
        AssessmentDefined(
            organisation_id=organisation_id,
            assessment_id=assessment_id,
            name=name,
            questions=questions,
        )
    ]


def answer_assessment(
    organisation_id: UUID,
    assessment: AssessmentDefined | None,
    user_id: UUID,
    answers: dict[UUID, bool],
) -> list[AssessmentAnswered]:
    if assessment is None:
        raise NotFoundError("no such assessment")
    known = {q.question_id for q in assessment.questions}
    unknown = [str(q) for q in answers if q not in known]
    if unknown:
        raise InvalidError(f"unknown question(s): {', '.join(unknown)}", "answers")
    missing = known - answers.keys()
    if missing:
        raise InvalidError(f"{len(missing)} question(s) not answered", "answers")
    return [
        AssessmentAnswered(
            organisation_id=organisation_id,
            assessment_id=assessment.assessment_id,
            user_id=user_id,
            answers=answers,
        )
    ]


# -- evolve -----------------------------------------------------------------------------------

Snapshot = Value | Event
"""An entity's state: a value (a user, a type...) or the event that is one (an organisation)."""


def evolve(state: Snapshot | None, event: Event) -> Snapshot | None:
    """The entity's state after `event` (events carry whole states, so mostly: take it)."""
    match event:
        case UserCreated() | UserUpdated():
            return event.user
        case CompanyCreated() | CompanyUpdated():
            return event.company
        case GroupCreated() | GroupUpdated():
            return event.group
        case CredentialTypeCreated() | CredentialTypeUpdated():
            return event.credential_type
        case RequirementAdded():
            return event.requirement
        case RequirementRemoved():
            return None
        case OrganisationSettingsChanged():
            assert isinstance(state, OrganisationCreated)
            return state.model_copy(update={"settings": event.settings})
        case OrganisationCreated() | AssessmentDefined() | AssessmentAnswered():
            return event
        case PersonErased():
            return state
    raise TypeError(f"the directory does not evolve on {type(event).__name__}")


def fold(state: Snapshot | None, events: Sequence[Event]) -> Snapshot | None:
    for event in events:
        state = evolve(state, event)
    return state
