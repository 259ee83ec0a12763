"""The directory's HTTP API: organisations, settings, users, companies, groups, credential types,
requirements and assessments. Reads are tenant-scoped (another organisation's objects answer
404); changes need the organisation's admin role (403 otherwise) and publish events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from psycopg import AsyncConnection
from pydantic import BaseModel

from credflow_common import idempotency
from credflow_common.auth import CurrentPrincipal, Principal
from credflow_common.db import contains_pattern
from credflow_common.eventstore import Metadata, RecordedEvent
from credflow_common.problems import FieldError, ProblemError
from credflow_common.service import ServiceContext
from credflow_contracts.events.base import Event
from credflow_contracts.events.directory import (
    AssessmentAnswered,
    AssessmentDefined,
    CompanyState,
    CredentialTypeState,
    GroupState,
    OrganisationCreated,
    RequirementState,
    UserState,
)
from credflow_contracts.ids import uuid7
from credflow_directory import domain
from credflow_directory.access import managed_by, people_of, require_admin, require_staff
from credflow_directory.domain import InvalidError, NotFoundError
from credflow_directory.inputs import (
    AnswersInput,
    AssessmentInput,
    CompanyInput,
    CompanyPatch,
    CredentialTypeInput,
    CredentialTypePatch,
    GroupInput,
    GroupPatch,
    OrganisationInput,
    RequirementInput,
    SettingsInput,
    UserInput,
    UserPatch,
    default_settings,
    settings_changes,
)
from credflow_directory.store import DirectoryStore
from credflow_directory.sync import parse_rows, sync_users

Conn = AsyncConnection[Any]
Body = dict[str, Any]
Model = TypeVar("Model", bound=BaseModel)
Check = Callable[[Conn], Awaitable[None]]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


class Directory:
    """The service layer: each command in one transaction with its events and snapshot."""

    def __init__(self, context: ServiceContext) -> None:
        self.context = context
        self.store = DirectoryStore(context.event_store)

    async def execute(
        self,
        request: Request,
        principal: Principal,
        key: str | None,
        payload: Any,
        work: Callable[[Conn], Awaitable[tuple[Body, list[RecordedEvent]]]],
    ) -> Body:
        """Run `work` in a transaction, honouring the idempotency key; add `position`."""
        return await idempotency.run_command(
            self.context.pool,
            idempotency.Caller(principal.organisation_id, principal.user_id),
            key,
            request.url.path,
            payload,
            work,
        )

    async def change(
        self,
        request: Request,
        principal: Principal,
        org: UUID,
        key: str | None,
        payload: Any,
        kind: str,
        entity_id: UUID | str,
        model: type[Model],
        decide: Callable[[Model | None], Sequence[Event]],
        check: Callable[[Conn, BaseModel], Awaitable[None]] | None = None,
    ) -> Body:
        """Load an entity, decide, check the new state's references, store events + snapshot."""

        async def work(conn: Conn) -> tuple[Body, list[RecordedEvent]]:
            await self.organisation(conn, org)
            current, version = await self.store.get(conn, org, kind, entity_id, model)
            events = decide(current)
            state = domain.fold(current, events)
            if check is not None and events and state is not None:
                await check(conn, state)
            meta = Metadata(org, request.state.correlation_id, actor_id=principal.user_id)
            recorded = await self.store.save(
                conn, org, kind, entity_id, version, events, state, meta
            )
            body = state.model_dump(mode="json") if state is not None else {"removed": True}
            return body, recorded

        return await self.execute(request, principal, key, payload, work)

    async def read(self, work: Callable[[Conn], Awaitable[Model]]) -> Model:
        async with self.context.pool.connection() as conn:
            return await work(conn)

    async def one(self, org: UUID, kind: str, entity_id: UUID | str, model: type[Model]) -> Body:
        async def work(conn: Conn) -> Model:
            found, _ = await self.store.get(conn, org, kind, entity_id, model)
            if found is None:
                raise NotFoundError(f"no such {kind.replace('_', ' ')}")
            return found

        return (await self.read(work)).model_dump(mode="json")

    async def many(
        self,
        org: UUID,
        kind: str,
        model: type[Model],
        where: str = "",
        params: Sequence[Any] = (),
        limit: int = 100_000,
        after: str | None = None,
    ) -> list[Body]:
        async with self.context.pool.connection() as conn:
            found = await self.store.select(conn, org, kind, model, where, params, limit, after)
        return [item.model_dump(mode="json") for item in found]

    async def organisation(self, conn: Conn, org: UUID) -> tuple[OrganisationCreated, int]:
        found, version = await self.store.get(conn, org, "organisation", org, OrganisationCreated)
        if found is None:
            raise NotFoundError(f"no organisation {org}")
        return found, version

    async def exists(self, conn: Conn, org: UUID, kind: str, entity_id: UUID, field: str) -> None:
        if not await self.store.exists(conn, org, kind, entity_id):
            raise InvalidError(f"no such {kind.replace('_', ' ')}", field)

    async def check_user(self, conn: Conn, org: UUID, user: BaseModel) -> None:
        """A user's manager, company and groups exist in this organisation."""
        assert isinstance(user, UserState)
        if user.manager_id is not None:
            await self.exists(conn, org, "user", user.manager_id, "body.manager_id")
        if user.company_id is not None:
            await self.exists(conn, org, "company", user.company_id, "body.company_id")
        for index, group_id in enumerate(user.group_ids):
            await self.exists(conn, org, "group", group_id, f"body.group_ids.{index}")

    async def check_credential_type(self, conn: Conn, org: UUID, kind: BaseModel) -> None:
        """Its internal equivalent is another credential type of this organisation."""
        assert isinstance(kind, CredentialTypeState)
        equivalent = kind.internal_equivalent_id
        if equivalent is not None:
            if equivalent == kind.credential_type_id:
                raise InvalidError(
                    "a type cannot be its own equivalent", "body.internal_equivalent_id"
                )
            await self.exists(
                conn, org, "credential_type", equivalent, "body.internal_equivalent_id"
            )

    async def check_group(self, conn: Conn, org: UUID, group: BaseModel) -> None:
        assert isinstance(group, GroupState)
        for index, admin_id in enumerate(group.admin_ids):
            await self.exists(conn, org, "user", admin_id, f"body.admin_ids.{index}")


def build_router(context: ServiceContext) -> APIRouter:
    directory = Directory(context)
    store = directory.store
    router = APIRouter(prefix="/organisations", tags=["directory"])

    def meta(request: Request, principal: Principal, org: UUID) -> Metadata:
        return Metadata(org, request.state.correlation_id, actor_id=principal.user_id)

    # -- organisations --------------------------------------------------------------------------

    @router.post("", status_code=201)
    async def create_organisation(
        body: OrganisationInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        """Create an organisation with its first admin. Platform operators only."""
        if not principal.is_platform_operator:
            raise ProblemError(403, "Forbidden", "creating organisations is for platform operators")
        org, admin_id = body.organisation_id or uuid7(), uuid7()
        settings = default_settings(body.settings)

        async def work(conn: Conn) -> tuple[Body, list[RecordedEvent]]:
            existing, _ = await store.get(conn, org, "organisation", org, OrganisationCreated)
            events = domain.create_organisation(
                existing.settings if existing else None, org, body.name, settings
            )
            recorded = await store.save(
                conn, org, "organisation", org, 0, events, events[0], meta(request, principal, org)
            )
            admin = UserState(
                user_id=admin_id,
                email=body.admin.email,
                name=body.admin.name,
                status="active",
                roles=["admin"],
                permissions=["users:manage"],
            )
            recorded += await store.save(
                conn,
                org,
                "user",
                admin_id,
                0,
                domain.create_user(org, None, admin),
                admin,
                meta(request, principal, org),
            )
            return {"organisation_id": str(org), "admin_user_id": str(admin_id)}, recorded

        payload = body.model_dump(mode="json")
        return await directory.execute(request, principal, idempotency_key, payload, work)

    @router.get("/{org}")
    async def get_organisation(org: UUID, principal: CurrentPrincipal) -> Body:
        principal.require_organisation(org)
        return await directory.one(org, "organisation", org, OrganisationCreated)

    @router.patch("/{org}/settings")
    async def change_settings(
        org: UUID,
        body: SettingsInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        require_admin(principal, org)
        changes = settings_changes(body)

        async def check(conn: Conn, state: BaseModel) -> None:
            if body.reviewer_group_id is not None:
                await directory.exists(
                    conn, org, "group", body.reviewer_group_id, "body.reviewer_group_id"
                )

        return await directory.change(
            request,
            principal,
            org,
            idempotency_key,
            changes,
            "organisation",
            org,
            OrganisationCreated,
            lambda current: domain.change_settings(
                org,
                current.settings if current else default_settings(SettingsInput()),
                changes,
                principal.user_id,
            ),
            check,
        )

    # -- users ----------------------------------------------------------------------------------

    @router.post("/{org}/users", status_code=201)
    async def create_user(
        org: UUID,
        body: UserInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        require_admin(principal, org)
        new = UserState(user_id=uuid7(), status="active", **body.model_dump())
        return await directory.change(
            request,
            principal,
            org,
            idempotency_key,
            body.model_dump(mode="json"),
            "user",
            new.user_id,
            UserState,
            lambda current: domain.create_user(org, current, new),
            lambda conn, state: directory.check_user(conn, org, state),
        )

    @router.get("/{org}/users")
    async def list_users(
        org: UUID,
        principal: CurrentPrincipal,
        status: Annotated[str | None, Query(pattern="^(active|deactivated)$")] = None,
        company_id: UUID | None = None,
        role: str | None = None,
        q: Annotated[str | None, Query(max_length=200, description="text in name or email")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        after: str | None = None,
    ) -> Body:
        mine, mine_params = people_of(managed_by(principal, org))
        clauses: list[str] = [mine] if mine else []
        params: list[Any] = list(mine_params)
        for clause, value in (
            ("state->>'status' = %s", status),
            ("state->>'company_id' = %s", str(company_id) if company_id else None),
            ("state->'roles' ? %s", role),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        if q:
            clauses.append("(state->>'name' ILIKE %s OR state->>'email' ILIKE %s)")
            params += [contains_pattern(q), contains_pattern(q)]
        users = await directory.many(
            org, "user", UserState, " AND ".join(clauses), params, limit, after
        )
        return {"items": users, "next": users[-1]["user_id"] if len(users) == limit else None}

    @router.get("/{org}/users/{user_id}")
    async def get_user(org: UUID, user_id: UUID, principal: CurrentPrincipal) -> Body:
        principal.require_organisation(org)
        if user_id != principal.user_id:
            manager_id = managed_by(principal, org)
            if manager_id is not None:  # a manager: only the people they manage
                where, params = people_of(manager_id)
                found = await directory.many(
                    org, "user", UserState, f"id = %s AND {where}", [str(user_id), *params]
                )
                if not found:
                    raise NotFoundError("no such user")
                return found[0]
        return await directory.one(org, "user", user_id, UserState)

    def user_change(
        org: UUID,
        user_id: UUID,
        request: Request,
        principal: Principal,
        key: str | None,
        payload: Any,
        decide: Callable[[UserState | None], Sequence[Event]],
    ) -> Awaitable[Body]:
        require_admin(principal, org)
        return directory.change(
            request,
            principal,
            org,
            key,
            payload,
            "user",
            user_id,
            UserState,
            decide,
            lambda conn, state: directory.check_user(conn, org, state),
        )

    @router.patch("/{org}/users/{user_id}")
    async def update_user(
        org: UUID,
        user_id: UUID,
        body: UserPatch,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        changes = body.model_dump(exclude_unset=True)
        for name in ("email", "name", "roles", "group_ids", "permissions"):
            if name in changes and changes[name] is None:
                raise ProblemError(
                    422,
                    "Request is not valid",
                    f"{name} cannot be null",
                    errors=[FieldError(f"body.{name}", "cannot be null")],
                )
        return await user_change(
            org,
            user_id,
            request,
            principal,
            idempotency_key,
            body.model_dump(mode="json", exclude_unset=True),
            lambda current: domain.update_user(org, current, changes),
        )

    @router.post("/{org}/users/{user_id}/deactivate")
    async def deactivate_user(
        org: UUID,
        user_id: UUID,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        return await user_change(
            org,
            user_id,
            request,
            principal,
            idempotency_key,
            "deactivate",
            lambda current: domain.deactivate_user(org, current),
        )

    @router.post("/{org}/users/{user_id}/reactivate")
    async def reactivate_user(
        org: UUID,
        user_id: UUID,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        return await user_change(
            org,
            user_id,
            request,
            principal,
            idempotency_key,
            "reactivate",
            lambda current: domain.reactivate_user(org, current),
        )

    @router.post(
        "/{org}/users/sync",
        openapi_extra={
            "requestBody": {
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": {"users": {"type": "array"}}}
                    },
                    "text/csv": {"schema": {"type": "string"}},
                }
            }
        },
    )
    async def sync(org: UUID, request: Request, principal: CurrentPrincipal) -> Body:
        """Upsert users by email from CSV (`text/csv`) or JSON (`{"users": [...]}`). Every row
        is validated first; valid rows are written, rejected rows are reported and not written."""
        require_admin(principal, org)
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        try:
            upload = parse_rows(await request.body(), content_type)
        except ValueError as exc:
            raise ProblemError(
                422, "Request is not valid", str(exc), errors=[FieldError("body", str(exc))]
            ) from exc
        async with context.pool.connection() as conn, conn.transaction():
            await directory.organisation(conn, org)
            report = await sync_users(conn, store, org, upload, meta(request, principal, org))
        return report.as_dict()

    # -- companies and groups -------------------------------------------------------------------

    @router.post("/{org}/companies", status_code=201)
    async def create_company(
        org: UUID,
        body: CompanyInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        require_admin(principal, org)
        new = CompanyState(company_id=uuid7(), name=body.name)
        return await directory.change(
            request,
            principal,
            org,
            idempotency_key,
            body.model_dump(mode="json"),
            "company",
            new.company_id,
            CompanyState,
            lambda current: domain.create_company(org, current, new),
        )

    @router.get("/{org}/companies")
    async def list_companies(org: UUID, principal: CurrentPrincipal) -> Body:
        principal.require_organisation(org)
        return {"items": await directory.many(org, "company", CompanyState)}

    @router.get("/{org}/companies/{company_id}")
    async def get_company(org: UUID, company_id: UUID, principal: CurrentPrincipal) -> Body:
        """A company and the workers who belong to it."""
        mine, mine_params = people_of(managed_by(principal, org))
        company = await directory.one(org, "company", company_id, CompanyState)
        workers = await directory.many(
            org,
            "user",
            UserState,
            " AND ".join(["state->>'company_id' = %s", *([mine] if mine else [])]),
            [str(company_id), *mine_params],
        )
        return {**company, "workers": workers}

    @router.patch("/{org}/companies/{company_id}")
    async def update_company(
        org: UUID,
        company_id: UUID,
        body: CompanyPatch,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        require_admin(principal, org)
        changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
        return await directory.change(
            request,
            principal,
            org,
            idempotency_key,
            changes,
            "company",
            company_id,
            CompanyState,
            lambda current: domain.update_company(org, current, changes),
        )

    @router.post("/{org}/groups", status_code=201)
    async def create_group(
        org: UUID,
        body: GroupInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        require_admin(principal, org)
        new = GroupState(group_id=uuid7(), name=body.name, admin_ids=body.admin_ids)
        return await directory.change(
            request,
            principal,
            org,
            idempotency_key,
            body.model_dump(mode="json"),
            "group",
            new.group_id,
            GroupState,
            lambda current: domain.create_group(org, current, new),
            lambda conn, state: directory.check_group(conn, org, state),
        )

    @router.get("/{org}/groups")
    async def list_groups(org: UUID, principal: CurrentPrincipal) -> Body:
        principal.require_organisation(org)
        return {"items": await directory.many(org, "group", GroupState)}

    @router.patch("/{org}/groups/{group_id}")
    async def update_group(
        org: UUID,
        group_id: UUID,
        body: GroupPatch,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        require_admin(principal, org)
        changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
        return await directory.change(
            request,
            principal,
            org,
            idempotency_key,
            changes,
            "group",
            group_id,
            GroupState,
            lambda current: domain.update_group(org, current, changes),
            lambda conn, state: directory.check_group(conn, org, state),
        )

    # -- credential types -----------------------------------------------------------------------

    @router.post("/{org}/credential-types", status_code=201)
    async def create_credential_type(
        org: UUID,
        body: CredentialTypeInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        require_admin(principal, org)
        new = CredentialTypeState(credential_type_id=uuid7(), **body.model_dump())
        return await directory.change(
            request,
            principal,
            org,
            idempotency_key,
            body.model_dump(mode="json"),
            "credential_type",
            new.credential_type_id,
            CredentialTypeState,
            lambda current: domain.create_credential_type(org, current, new),
            lambda conn, state: directory.check_credential_type(conn, org, state),
        )

    @router.get("/{org}/credential-types")
    async def list_credential_types(
        org: UUID, principal: CurrentPrincipal, include_archived: bool = False
    ) -> Body:
        principal.require_organisation(org)
        where = "" if include_archived else "(state->>'archived')::boolean IS NOT TRUE"
        return {"items": await directory.many(org, "credential_type", CredentialTypeState, where)}

    @router.get("/{org}/credential-types/{type_id}")
    async def get_credential_type(org: UUID, type_id: UUID, principal: CurrentPrincipal) -> Body:
        principal.require_organisation(org)
        return await directory.one(org, "credential_type", type_id, CredentialTypeState)

    @router.patch("/{org}/credential-types/{type_id}")
    async def update_credential_type(
        org: UUID,
        type_id: UUID,
        body: CredentialTypePatch,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        require_admin(principal, org)
        changes = body.model_dump(exclude_unset=True)
        return await directory.change(
            request,
            principal,
            org,
            idempotency_key,
            body.model_dump(mode="json", exclude_unset=True),
            "credential_type",
            type_id,
            CredentialTypeState,
            lambda current: domain.update_credential_type(org, current, changes),
            lambda conn, state: directory.check_credential_type(conn, org, state),
        )

    @router.post("/{org}/credential-types/{type_id}/archive")
    async def archive_credential_type(
        org: UUID,
        type_id: UUID,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        require_admin(principal, org)
        return await directory.change(
            request,
            principal,
            org,
            idempotency_key,
            "archive",
            "credential_type",
            type_id,
            CredentialTypeState,
            lambda current: domain.archive_credential_type(org, current),
        )

    # -- requirements ---------------------------------------------------------------------------

    @router.post("/{org}/requirements", status_code=201)
    async def add_requirement(
        org: UUID,
        body: RequirementInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        require_admin(principal, org)
        new = RequirementState(requirement_id=uuid7(), **body.model_dump())

        async def work(conn: Conn) -> tuple[Body, list[RecordedEvent]]:
            await directory.organisation(conn, org)
            credential_type, _ = await store.get(
                conn, org, "credential_type", body.credential_type_id, CredentialTypeState
            )
            if body.company_id is not None:
                await directory.exists(conn, org, "company", body.company_id, "body.company_id")
            if body.group_id is not None:
                await directory.exists(conn, org, "group", body.group_id, "body.group_id")
            target = new.model_dump(exclude={"requirement_id"})
            existing = await store.select(conn, org, "requirement", RequirementState)
            same = next(
                (
                    r.requirement_id
                    for r in existing
                    if r.model_dump(exclude={"requirement_id"}) == target
                ),
                None,
            )
            events = domain.add_requirement(org, new, credential_type, same)
            recorded = await store.save(
                conn,
                org,
                "requirement",
                new.requirement_id,
                0,
                events,
                new,
                meta(request, principal, org),
            )
            return new.model_dump(mode="json"), recorded

        payload = body.model_dump(mode="json")
        return await directory.execute(request, principal, idempotency_key, payload, work)

    @router.get("/{org}/requirements")
    async def list_requirements(org: UUID, principal: CurrentPrincipal) -> Body:
        principal.require_organisation(org)
        return {"items": await directory.many(org, "requirement", RequirementState)}

    @router.delete("/{org}/requirements/{requirement_id}")
    async def remove_requirement(
        org: UUID,
        requirement_id: UUID,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        require_admin(principal, org)
        return await directory.change(
            request,
            principal,
            org,
            idempotency_key,
            "remove",
            "requirement",
            requirement_id,
            RequirementState,
            lambda current: domain.remove_requirement(org, current),
        )

    # -- assessments ----------------------------------------------------------------------------

    async def save_assessment(
        org: UUID,
        assessment_id: UUID,
        body: AssessmentInput,
        request: Request,
        principal: Principal,
        key: str | None,
        must_exist: bool,
    ) -> Body:
        require_admin(principal, org)
        async with context.pool.connection() as conn:
            types = await store.select(
                conn, org, "credential_type", CredentialTypeState, limit=100_000
            )
        known = {t.credential_type_id for t in types}

        def decide(current: AssessmentDefined | None) -> Sequence[Event]:
            if must_exist and current is None:
                raise NotFoundError("no such assessment")
            return domain.define_assessment(org, assessment_id, body.name, body.questions, known)

        return await directory.change(
            request,
            principal,
            org,
            key,
            body.model_dump(mode="json"),
            "assessment",
            assessment_id,
            AssessmentDefined,
            decide,
        )

    @router.post("/{org}/assessments", status_code=201)
    async def define_assessment(
        org: UUID,
        body: AssessmentInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        return await save_assessment(
            org, uuid7(), body, request, principal, idempotency_key, must_exist=False
        )

    @router.put("/{org}/assessments/{assessment_id}")
    async def redefine_assessment(
        org: UUID,
        assessment_id: UUID,
        body: AssessmentInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        return await save_assessment(
            org, assessment_id, body, request, principal, idempotency_key, must_exist=True
        )

    @router.get("/{org}/assessments")
    async def list_assessments(org: UUID, principal: CurrentPrincipal) -> Body:
        principal.require_organisation(org)
        return {"items": await directory.many(org, "assessment", AssessmentDefined)}

    @router.post("/{org}/assessments/{assessment_id}/answers")
    async def answer_assessment(
        org: UUID,
        assessment_id: UUID,
        body: AnswersInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> Body:
        """A worker answers for themselves; an admin may record answers for anyone."""
        principal.require_organisation(org)
        user_id = body.user_id or principal.user_id
        if user_id != principal.user_id and not principal.has_role("admin"):
            raise ProblemError(403, "Forbidden", "only admins record answers for someone else")
        async with context.pool.connection() as conn:
            assessment, _ = await store.get(
                conn, org, "assessment", assessment_id, AssessmentDefined
            )
            user, _ = await store.get(conn, org, "user", user_id, UserState)
        if user is None:
            raise InvalidError("no such user", "body.user_id")
        return await directory.change(
            request,
            principal,
            org,
            idempotency_key,
            body.model_dump(mode="json"),
            "assessment_answer",
            f"{assessment_id}:{user_id}",
            AssessmentAnswered,
            lambda _: domain.answer_assessment(org, assessment, user_id, body.answers),
        )

    @router.get("/{org}/assessments/{assessment_id}/answers/{user_id}")
    async def get_answers(
        org: UUID, assessment_id: UUID, user_id: UUID, principal: CurrentPrincipal
    ) -> Body:
        principal.require_organisation(org)
        if user_id != principal.user_id:
            require_staff(principal, org)
        return await directory.one(
            org, "assessment_answer", f"{assessment_id}:{user_id}", AssessmentAnswered
        )

    return router
