"""Assessments: questions an organisation asks its people, and their answers."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from fastapi import APIRouter

from credflow_common.auth import CurrentPrincipal
from credflow_common.problems import ProblemError
from credflow_common.requests import Asking, Body
from credflow_contracts.events.base import Event
from credflow_contracts.events.directory import AssessmentAnswered, AssessmentDefined, UserState
from credflow_contracts.ids import uuid7
from credflow_directory import domain
from credflow_directory.access import require_admin, require_staff
from credflow_directory.domain import InvalidError, NotFoundError
from credflow_directory.inputs import AnswersInput, AssessmentInput
from credflow_directory.service import Directory, Entity


def build(directory: Directory) -> APIRouter:
    router = APIRouter(prefix="/organisations", tags=["directory"])

    async def save_assessment(
        asking: Asking, target: Entity[AssessmentDefined], body: AssessmentInput, must_exist: bool
    ) -> Body:
        org, assessment_id = target.organisation_id, UUID(str(target.entity_id))
        require_admin(asking.principal, org)
        known = await directory.credential_type_ids(org)

        def decide(current: AssessmentDefined | None) -> Sequence[Event]:
            if must_exist and current is None:
                raise NotFoundError("no such assessment")
            return domain.define_assessment(org, assessment_id, body.name, body.questions, known)

        return await directory.change(asking.command(org, body.model_dump(mode="json")),
                                      target, decide)  # fmt: skip

    @router.post("/{org}/assessments", status_code=201)
    async def define_assessment(org: UUID, body: AssessmentInput, asking: Asking) -> Body:
        target = Entity(org, "assessment", uuid7(), AssessmentDefined)
        return await save_assessment(asking, target, body, must_exist=False)

    @router.put("/{org}/assessments/{assessment_id}")
    async def redefine_assessment(
        org: UUID, assessment_id: UUID, body: AssessmentInput, asking: Asking
    ) -> Body:
        target = Entity(org, "assessment", assessment_id, AssessmentDefined)
        return await save_assessment(asking, target, body, must_exist=True)

    @router.get("/{org}/assessments")
    async def list_assessments(org: UUID, principal: CurrentPrincipal) -> Body:
        principal.require_organisation(org)
        return {"items": await directory.many(org, "assessment", AssessmentDefined)}

    @router.post("/{org}/assessments/{assessment_id}/answers")
    async def answer_assessment(
        org: UUID, assessment_id: UUID, body: AnswersInput, asking: Asking
    ) -> Body:
        """A worker answers for themselves; an admin may record answers for anyone."""
        principal = asking.principal
        principal.require_organisation(org)
        user_id = body.user_id or principal.user_id
        if user_id != principal.user_id and not principal.has_role("admin"):
            raise ProblemError(403, "Forbidden", "only admins record answers for someone else")
        assessment = await directory.find(
            Entity(org, "assessment", assessment_id, AssessmentDefined)
        )
        if await directory.find(Entity(org, "user", user_id, UserState)) is None:
            raise InvalidError("no such user", "user_id")
        return await directory.change(
            asking.command(org, body.model_dump(mode="json")),
            Entity(org, "assessment_answer", f"{assessment_id}:{user_id}", AssessmentAnswered),
            lambda _: domain.answer_assessment(org, assessment, user_id, body.answers),
        )

    @router.get("/{org}/assessments/{assessment_id}/answers/{user_id}")
    async def get_answers(
        org: UUID, assessment_id: UUID, user_id: UUID, principal: CurrentPrincipal
    ) -> Body:
        principal.require_organisation(org)
        if user_id != principal.user_id:
            require_staff(principal, org)
        answers = Entity(org, "assessment_answer", f"{assessment_id}:{user_id}", AssessmentAnswered)
        return await directory.one(answers)

    return router
