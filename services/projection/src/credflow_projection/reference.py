"""Directory (but people) and import events: the reference data the views join with, and
what each change makes stale among the derived rows (`derived.py`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from credflow_contracts.events.base import Event
from credflow_contracts.events.directory import (
    AssessmentAnswered,
    AssessmentDefined,
    CompanyCreated,
    CompanyUpdated,
    CredentialTypeCreated,
    CredentialTypeUpdated,
    OrganisationCreated,
    OrganisationSettings,
    OrganisationSettingsChanged,
    PersonErased,
    RequirementAdded,
    RequirementRemoved,
)
from credflow_contracts.events.imports import ImportCompleted
from credflow_projection import erasure
from credflow_projection.derived import Stale

Conn = AsyncConnection[Any]


def note_stale(stale: Stale, event: Event) -> None:
    org = getattr(event, "organisation_id", None)
    if org is None:
        return
    match event:
        case CompanyCreated() | CompanyUpdated():
            stale.companies[org].add(event.company.company_id)
        case CredentialTypeCreated() | CredentialTypeUpdated():
            stale.types[org].add(event.credential_type.credential_type_id)
            if (
                isinstance(event, CredentialTypeUpdated)
                and "internal_equivalent_id" in event.changed
            ):
                stale.organisations.add(org)
        case RequirementAdded() | RequirementRemoved() | AssessmentDefined():
            stale.organisations.add(org)
        case AssessmentAnswered():
            stale.judged[org].add(event.user_id)
        case PersonErased():
            stale.holders[org].add(event.user_id)  # forgotten, then relabelled


async def apply(conn: Conn, event: Event) -> None:
    """Directory (but people) and import events: reference data the views join with."""
    org = getattr(event, "organisation_id", None)
    match event:
        case OrganisationCreated():
            await _upsert_organisation(conn, org, event.name, event.settings)
        case PersonErased():
            await erasure.record(conn, event.organisation_id, event.user_id, event.erased_at)
        case OrganisationSettingsChanged():
            await conn.execute(
                "UPDATE organisations SET time_zone = %s, expiring_soon_days = %s,"
                " credential_management = %s WHERE organisation_id = %s",
                (
                    event.settings.time_zone,
                    event.settings.expiring_soon_days,
                    event.settings.credential_management,
                    org,
                ),
            )
        case CompanyCreated() | CompanyUpdated():
            company = event.company
            await conn.execute(
                "INSERT INTO companies VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (organisation_id, company_id) DO UPDATE SET name = EXCLUDED.name,"
                " archived = EXCLUDED.archived",
                (org, company.company_id, company.name, company.archived),
            )
        case CredentialTypeCreated() | CredentialTypeUpdated():
            kind = event.credential_type
            await conn.execute(
                "INSERT INTO credential_types VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (organisation_id, credential_type_id) DO UPDATE SET"
                " name = EXCLUDED.name, expires = EXCLUDED.expires,"
                " media_required = EXCLUDED.media_required,"
                " internal_equivalent_id = EXCLUDED.internal_equivalent_id,"
                " archived = EXCLUDED.archived",
                (
                    org, kind.credential_type_id, kind.name, kind.expires, kind.media_required,
                    kind.internal_equivalent_id, kind.archived,
                ),
            )  # fmt: skip
        case RequirementAdded():
            requirement = event.requirement
            await conn.execute(
                "INSERT INTO requirements VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (organisation_id, requirement_id) DO NOTHING",
                (
                    org, requirement.requirement_id, requirement.credential_type_id,
                    requirement.scope, requirement.company_id, requirement.group_id,
                ),
            )  # fmt: skip
        case RequirementRemoved():
            await conn.execute(
                "DELETE FROM requirements WHERE organisation_id = %s AND requirement_id = %s",
                (org, event.requirement_id),
            )
        case AssessmentDefined():
            await conn.execute(
                "DELETE FROM assessment_questions WHERE organisation_id = %s"
                " AND assessment_id = %s",
                (org, event.assessment_id),
            )
            for question in event.questions:
                await conn.execute(
                    "INSERT INTO assessment_questions VALUES (%s, %s, %s, %s)",
                    (org, event.assessment_id, question.question_id,
                     question.requires_credential_type_ids),
                )  # fmt: skip
        case AssessmentAnswered():
            yes = [question_id for question_id, answer in event.answers.items() if answer]
            await conn.execute(
                "INSERT INTO assessment_answers VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (organisation_id, assessment_id, user_id) DO UPDATE"
                " SET yes_question_ids = EXCLUDED.yes_question_ids",
                (org, event.assessment_id, event.user_id, yes),
            )
        case ImportCompleted():
            await conn.execute(
                "INSERT INTO imports VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (import_id) DO NOTHING",
                (
                    event.import_id, org, event.uploaded_by, event.file_name, event.rows_total,
                    event.credentials_created, event.approval_required, event.completed_at,
                ),
            )  # fmt: skip


async def _upsert_organisation(
    conn: Conn, org: UUID | None, name: str, settings: OrganisationSettings
) -> None:
    await conn.execute(
        "INSERT INTO organisations VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (organisation_id) DO UPDATE SET name = EXCLUDED.name,"
        " time_zone = EXCLUDED.time_zone, expiring_soon_days = EXCLUDED.expiring_soon_days,"
        " credential_management = EXCLUDED.credential_management",
        (org, name, settings.time_zone, settings.expiring_soon_days,
         settings.credential_management),
    )  # fmt: skip
