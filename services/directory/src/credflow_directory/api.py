"""The directory's HTTP API: organisations, settings, users, companies, groups, credential types,
requirements and assessments. Reads are tenant-scoped (another organisation's objects answer
404); changes need the organisation's admin role (403 otherwise) and publish events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from psycopg import AsyncConnection

from credflow_common import idempotency
from credflow_common.auth import CurrentPrincipal, Principal
from credflow_common.eventstore import Metadata, RecordedEvent
from credflow_common.problems import FieldError, ProblemError
from credflow_common.service import ServiceContext
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
from credflow_directory.domain import DirectoryError, InvalidError, NotFoundError
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
from credflow_directory.sync import SyncReport, parse_rows, sync_users

Conn = AsyncConnection[Any]
Work = Callable[[Conn], Awaitable[tuple[dict[str, Any], list[RecordedEvent]]]]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
STAFF_ROLES = ("manager", "reviewer", "client_viewer")


class Directory:
    """The service layer: runs each command in one transaction with its events."""

    def __init__(self, context: ServiceContext) -> None:
        self.context = context
        self.store = DirectoryStore(context.event_store)

    async def execute(
        self,
        request: Request,
        principal: Principal,
        key: str | None,
        payload: Any,
        work: Work,
    ) -> dict[str, Any]:
        async with self.context.pool.connection() as conn, conn.transaction():
            fingerprint = idempotency.fingerprint([request.url.path, payload])
            if key is not None:
                earlier = await idempotency.claim(conn, principal.organisation_id, key, fingerprint)
                if earlier is not None:
                    return earlier
            try:
                body, recorded = await work(conn)
            except DirectoryError as exc:
                raise problem(exc) from exc
            body = {**body, "position": str(recorded[-1].event_id) if recorded else None}
            if key is not None:
                await idempotency.record(conn, principal.organisation_id, key, body)
            return body

    def metadata(self, request: Request, principal: Principal, org: UUID) -> Metadata:
        return Metadata(
            tenant_id=org,
            correlation_id=request.state.correlation_id,
            actor_id=principal.user_id,
        )

    async def read(self, work: Callable[[Conn], Awaitable[Any]]) -> Any:
        async with self.context.pool.connection() as conn:
            try:
                return await work(conn)
            except DirectoryError as exc:
                raise problem(exc) from exc

    async def settings(self, conn: Conn, org: UUID) -> tuple[OrganisationCreated, int]:
        found, version = await self.store.get(conn, org, "organisation", org, OrganisationCreated)
        if found is None:
            raise NotFoundError(f"no organisation {org}")
        return found, version

    async def check_references(
        self, conn: Conn, org: UUID, user: UserState, field_prefix: str = "body"
    ) -> None:
        """Manager, company and groups must exist in this organisation."""
        if user.manager_id is not None:
            manager, _ = await self.store.get(conn, org, "user", user.manager_id, UserState)
            if manager is None:
                raise InvalidError("no such user", f"{field_prefix}.manager_id")
        if user.company_id is not None:
            company, _ = await self.store.get(conn, org, "company", user.company_id, CompanyState)
            if company is None:
                raise InvalidError("no such company", f"{field_prefix}.company_id")
        for index, group_id in enumerate(user.group_ids):
            group, _ = await self.store.get(conn, org, "group", group_id, GroupState)
            if group is None:
                raise InvalidError("no such group", f"{field_prefix}.group_ids.{index}")


def problem(exc: DirectoryError) -> ProblemError:
    titles = {404: "Not Found", 409: "Conflict", 422: "Request is not valid"}
    errors = [FieldError(exc.field, exc.message)] if exc.field else []
    return ProblemError(exc.status, titles.get(exc.status, "Error"), exc.message, errors=errors)


def require_admin(principal: Principal, org: UUID) -> None:
    principal.require_organisation(org)
    if not principal.has_role("admin"):
        raise ProblemError(403, "Forbidden", "only organisation admins change directory data")


def require_staff(principal: Principal, org: UUID) -> None:
    principal.require_organisation(org)
    if not (principal.has_role("admin", *STAFF_ROLES) or principal.can("users:manage")):
        raise ProblemError(403, "Forbidden", "workers see only their own profile")


def build_router(context: ServiceContext) -> APIRouter:
    directory = Directory(context)
    store = directory.store
    router = APIRouter(prefix="/organisations", tags=["directory"])

    # -- organisations --------------------------------------------------------------------------

    @router.post("", status_code=201)
    async def create_organisation(
        body: OrganisationInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Create an organisation with its first admin. Platform operators only."""
        if not principal.is_platform_operator:
            raise ProblemError(403, "Forbidden", "creating organisations is for platform operators")
        org = body.organisation_id or uuid7()
        admin_id = uuid7()
        settings = default_settings(body.settings)

        async def work(conn: Conn) -> tuple[dict[str, Any], list[RecordedEvent]]:
            existing, _ = await store.get(conn, org, "organisation", org, OrganisationCreated)
            events = domain.create_organisation(
                existing.settings if existing else None, org, body.name, settings
            )
            meta = Metadata(
                tenant_id=org,
                correlation_id=request.state.correlation_id,
                actor_id=principal.user_id,
            )
            recorded = await store.save(conn, org, "organisation", org, 0, events, events[0], meta)
            admin = UserState(
                user_id=admin_id,
                email=body.admin.email,
                name=body.admin.name,
                status="active",
                roles=["admin"],
                permissions=["users:manage"],
            )
            recorded += await store.save(
                conn, org, "user", admin_id, 0, domain.create_user(org, None, admin), admin, meta
            )
            return {"organisation_id": str(org), "admin_user_id": str(admin_id)}, recorded

        return await directory.execute(
            request, principal, idempotency_key, body.model_dump(mode="json"), work
        )

    @router.get("/{org}")
    async def get_organisation(org: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        principal.require_organisation(org)

        async def work(conn: Conn) -> dict[str, Any]:
            found, _ = await directory.settings(conn, org)
            return {
                "organisation_id": str(org),
                "name": found.name,
                "settings": found.settings.model_dump(mode="json"),
            }

        result: dict[str, Any] = await directory.read(work)
        return result

    @router.patch("/{org}/settings")
    async def change_settings(
        org: UUID,
        body: SettingsInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        require_admin(principal, org)
        changes = settings_changes(body)

        async def work(conn: Conn) -> tuple[dict[str, Any], list[RecordedEvent]]:
            current, version = await directory.settings(conn, org)
            if body.reviewer_group_id is not None:
                group, _ = await store.get(conn, org, "group", body.reviewer_group_id, GroupState)
                if group is None:
                    raise InvalidError("no such group", "body.reviewer_group_id")
            events = domain.change_settings(org, current.settings, changes, principal.user_id)
            updated = current.settings
            if events:
                updated = events[0].settings
            snapshot = current.model_copy(update={"settings": updated})
            recorded = await store.save(
                conn,
                org,
                "organisation",
                org,
                version,
                events,
                snapshot,
                directory.metadata(request, principal, org),
            )
            return {"settings": updated.model_dump(mode="json")}, recorded

        return await directory.execute(request, principal, idempotency_key, changes, work)

    # -- users ----------------------------------------------------------------------------------

    @router.post("/{org}/users", status_code=201)
    async def create_user(
        org: UUID,
        body: UserInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        require_admin(principal, org)
        user = UserState(user_id=uuid7(), status="active", **body.model_dump())

        async def work(conn: Conn) -> tuple[dict[str, Any], list[RecordedEvent]]:
            await directory.settings(conn, org)
            await directory.check_references(conn, org, user)
            events = domain.create_user(org, None, user)
            recorded = await store.save(
                conn,
                org,
                "user",
                user.user_id,
                0,
                events,
                user,
                directory.metadata(request, principal, org),
            )
            return user.model_dump(mode="json"), recorded

        return await directory.execute(
            request, principal, idempotency_key, body.model_dump(mode="json"), work
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
    ) -> dict[str, Any]:
        require_staff(principal, org)
        clauses, params = [], []
        if status:
            clauses.append("state->>'status' = %s")
            params.append(status)
        if company_id:
            clauses.append("state->>'company_id' = %s")
            params.append(str(company_id))
        if role:
            clauses.append("state->'roles' ? %s")
            params.append(role)
        if q:
            clauses.append("(state->>'name' ILIKE %s OR state->>'email' ILIKE %s)")
            params += [f"%{q}%", f"%{q}%"]

        async def work(conn: Conn) -> list[UserState]:
            return await store.select(
                conn, org, "user", UserState, " AND ".join(clauses), params, limit, after
            )

        users: list[UserState] = await directory.read(work)
        return {
            "items": [u.model_dump(mode="json") for u in users],
            "next": str(users[-1].user_id) if len(users) == limit else None,
        }

    @router.get("/{org}/users/{user_id}")
    async def get_user(org: UUID, user_id: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        principal.require_organisation(org)
        if user_id != principal.user_id:
            require_staff(principal, org)

        async def work(conn: Conn) -> dict[str, Any]:
            user, _ = await store.get(conn, org, "user", user_id, UserState)
            if user is None:
                raise NotFoundError("no such user")
            return user.model_dump(mode="json")

        result: dict[str, Any] = await directory.read(work)
        return result

    async def change_user(
        org: UUID,
        user_id: UUID,
        request: Request,
        principal: Principal,
        key: str | None,
        payload: Any,
        decide: Callable[[UserState | None], list[Any]],
    ) -> dict[str, Any]:
        require_admin(principal, org)

        async def work(conn: Conn) -> tuple[dict[str, Any], list[RecordedEvent]]:
            current, version = await store.get(conn, org, "user", user_id, UserState)
            events = decide(current)
            user = events[-1].user if events else current
            assert user is not None
            if events:
                await directory.check_references(conn, org, user)
            recorded = await store.save(
                conn,
                org,
                "user",
                user_id,
                version,
                events,
                user,
                directory.metadata(request, principal, org),
            )
            return user.model_dump(mode="json"), recorded

        return await directory.execute(request, principal, key, payload, work)

    @router.patch("/{org}/users/{user_id}")
    async def update_user(
        org: UUID,
        user_id: UUID,
        body: UserPatch,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        changes = body.model_dump(exclude_unset=True)
        for field in ("email", "name", "roles", "group_ids", "permissions"):
            if field in changes and changes[field] is None:
                raise ProblemError(
                    422,
                    "Request is not valid",
                    f"{field} cannot be null",
                    errors=[FieldError(f"body.{field}", "cannot be null")],
                )
        return await change_user(
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
    ) -> dict[str, Any]:
        return await change_user(
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
    ) -> dict[str, Any]:
        return await change_user(
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
    async def sync(org: UUID, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
        """Upsert users by email from CSV (`text/csv`) or JSON (`{"users": [...]}`). Every row
        is validated first; valid rows are written, rejected rows are reported and not written."""
        require_admin(principal, org)
        raw = await request.body()
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        try:
            rows = parse_rows(raw, content_type)
        except ValueError as exc:
            raise ProblemError(
                422, "Request is not valid", str(exc), errors=[FieldError("body", str(exc))]
            ) from exc
        async with context.pool.connection() as conn, conn.transaction():
            try:
                await directory.settings(conn, org)
            except DirectoryError as exc:
                raise problem(exc) from exc
            report: SyncReport = await sync_users(
                conn, store, org, rows, directory.metadata(request, principal, org)
            )
        return report.as_dict()

    # -- companies ------------------------------------------------------------------------------

    @router.post("/{org}/companies", status_code=201)
    async def create_company(
        org: UUID,
        body: CompanyInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        require_admin(principal, org)
        company = CompanyState(company_id=uuid7(), name=body.name)

        async def work(conn: Conn) -> tuple[dict[str, Any], list[RecordedEvent]]:
            await directory.settings(conn, org)
            events = domain.create_company(org, None, company)
            recorded = await store.save(
                conn,
                org,
                "company",
                company.company_id,
                0,
                events,
                company,
                directory.metadata(request, principal, org),
            )
            return company.model_dump(mode="json"), recorded

        return await directory.execute(
            request, principal, idempotency_key, body.model_dump(mode="json"), work
        )

    @router.get("/{org}/companies")
    async def list_companies(org: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        principal.require_organisation(org)

        async def work(conn: Conn) -> list[CompanyState]:
            return await store.select(conn, org, "company", CompanyState)

        companies: list[CompanyState] = await directory.read(work)
        return {"items": [c.model_dump(mode="json") for c in companies]}

    @router.get("/{org}/companies/{company_id}")
    async def get_company(
        org: UUID, company_id: UUID, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        """A company and the workers who belong to it."""
        require_staff(principal, org)

        async def work(conn: Conn) -> dict[str, Any]:
            company, _ = await store.get(conn, org, "company", company_id, CompanyState)
            if company is None:
                raise NotFoundError("no such company")
            workers = await store.select(
                conn,
                org,
                "user",
                UserState,
                "state->>'company_id' = %s",
                [str(company_id)],
                limit=100_000,
            )
            return {
                **company.model_dump(mode="json"),
                "workers": [w.model_dump(mode="json") for w in workers],
            }

        result: dict[str, Any] = await directory.read(work)
        return result

    @router.patch("/{org}/companies/{company_id}")
    async def update_company(
        org: UUID,
        company_id: UUID,
        body: CompanyPatch,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        require_admin(principal, org)
        changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}

        async def work(conn: Conn) -> tuple[dict[str, Any], list[RecordedEvent]]:
            current, version = await store.get(conn, org, "company", company_id, CompanyState)
            events = domain.update_company(org, current, changes)
            company = events[-1].company if events else current
            assert company is not None  # the decision raised NotFound otherwise
            recorded = await store.save(
                conn,
                org,
                "company",
                company_id,
                version,
                events,
                company,
                directory.metadata(request, principal, org),
            )
            return company.model_dump(mode="json"), recorded

        return await directory.execute(request, principal, idempotency_key, changes, work)

    # -- groups ---------------------------------------------------------------------------------

    @router.post("/{org}/groups", status_code=201)
    async def create_group(
        org: UUID,
        body: GroupInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        require_admin(principal, org)
        group = GroupState(group_id=uuid7(), name=body.name, admin_ids=body.admin_ids)

        async def work(conn: Conn) -> tuple[dict[str, Any], list[RecordedEvent]]:
            await directory.settings(conn, org)
            await check_users_exist(conn, org, group.admin_ids, "body.admin_ids")
            events = domain.create_group(org, None, group)
            recorded = await store.save(
                conn,
                org,
                "group",
                group.group_id,
                0,
                events,
                group,
                directory.metadata(request, principal, org),
            )
            return group.model_dump(mode="json"), recorded

        return await directory.execute(
            request, principal, idempotency_key, body.model_dump(mode="json"), work
        )

    async def check_users_exist(conn: Conn, org: UUID, ids: list[UUID], field: str) -> None:
        for index, user_id in enumerate(ids):
            user, _ = await store.get(conn, org, "user", user_id, UserState)
            if user is None:
                raise InvalidError("no such user", f"{field}.{index}")

    @router.get("/{org}/groups")
    async def list_groups(org: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        principal.require_organisation(org)

        async def work(conn: Conn) -> list[GroupState]:
            return await store.select(conn, org, "group", GroupState)

        groups: list[GroupState] = await directory.read(work)
        return {"items": [g.model_dump(mode="json") for g in groups]}

    @router.patch("/{org}/groups/{group_id}")
    async def update_group(
        org: UUID,
        group_id: UUID,
        body: GroupPatch,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        require_admin(principal, org)
        changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}

        async def work(conn: Conn) -> tuple[dict[str, Any], list[RecordedEvent]]:
            current, version = await store.get(conn, org, "group", group_id, GroupState)
            await check_users_exist(conn, org, changes.get("admin_ids", []), "body.admin_ids")
            events = domain.update_group(org, current, changes)
            group = events[-1].group if events else current
            assert group is not None  # the decision raised NotFound otherwise
            recorded = await store.save(
                conn,
                org,
                "group",
                group_id,
                version,
                events,
                group,
                directory.metadata(request, principal, org),
            )
            return group.model_dump(mode="json"), recorded

        return await directory.execute(request, principal, idempotency_key, changes, work)

    # -- credential types -----------------------------------------------------------------------

    @router.post("/{org}/credential-types", status_code=201)
    async def create_credential_type(
        org: UUID,
        body: CredentialTypeInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        require_admin(principal, org)
        new = CredentialTypeState(credential_type_id=uuid7(), **body.model_dump())

        async def work(conn: Conn) -> tuple[dict[str, Any], list[RecordedEvent]]:
            await directory.settings(conn, org)
            events = domain.create_credential_type(org, None, new)
            recorded = await store.save(
                conn,
                org,
                "credential_type",
                new.credential_type_id,
                0,
                events,
                new,
                directory.metadata(request, principal, org),
            )
            return new.model_dump(mode="json"), recorded

        return await directory.execute(
            request, principal, idempotency_key, body.model_dump(mode="json"), work
        )

    @router.get("/{org}/credential-types")
    async def list_credential_types(
        org: UUID, principal: CurrentPrincipal, include_archived: bool = False
    ) -> dict[str, Any]:
        principal.require_organisation(org)
        where = "" if include_archived else "(state->>'archived')::boolean IS NOT TRUE"

        async def work(conn: Conn) -> list[CredentialTypeState]:
            return await store.select(conn, org, "credential_type", CredentialTypeState, where)

        types: list[CredentialTypeState] = await directory.read(work)
        return {"items": [t.model_dump(mode="json") for t in types]}

    @router.get("/{org}/credential-types/{type_id}")
    async def get_credential_type(
        org: UUID, type_id: UUID, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        principal.require_organisation(org)

        async def work(conn: Conn) -> dict[str, Any]:
            found, _ = await store.get(conn, org, "credential_type", type_id, CredentialTypeState)
            if found is None:
                raise NotFoundError("no such credential type")
            return found.model_dump(mode="json")

        result: dict[str, Any] = await directory.read(work)
        return result

    async def change_type(
        org: UUID,
        type_id: UUID,
        request: Request,
        principal: Principal,
        key: str | None,
        payload: Any,
        decide: Callable[[CredentialTypeState | None], list[Any]],
    ) -> dict[str, Any]:
        require_admin(principal, org)

        async def work(conn: Conn) -> tuple[dict[str, Any], list[RecordedEvent]]:
            current, version = await store.get(
                conn, org, "credential_type", type_id, CredentialTypeState
            )
            events = decide(current)
            updated = events[-1].credential_type if events else current
            assert updated is not None  # the decision raised NotFound otherwise
            recorded = await store.save(
                conn,
                org,
                "credential_type",
                type_id,
                version,
                events,
                updated,
                directory.metadata(request, principal, org),
            )
            return updated.model_dump(mode="json"), recorded

        return await directory.execute(request, principal, key, payload, work)

    @router.patch("/{org}/credential-types/{type_id}")
    async def update_credential_type(
        org: UUID,
        type_id: UUID,
        body: CredentialTypePatch,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        changes = body.model_dump(exclude_unset=True)
        return await change_type(
            org,
            type_id,
            request,
            principal,
            idempotency_key,
            body.model_dump(mode="json", exclude_unset=True),
            lambda current: domain.update_credential_type(org, current, changes),
        )

    @router.post("/{org}/credential-types/{type_id}/archive")
    async def archive_credential_type(
        org: UUID,
        type_id: UUID,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        return await change_type(
            org,
            type_id,
            request,
            principal,
            idempotency_key,
            "archive",
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
    ) -> dict[str, Any]:
        require_admin(principal, org)
        requirement = RequirementState(requirement_id=uuid7(), **body.model_dump())

        async def work(conn: Conn) -> tuple[dict[str, Any], list[RecordedEvent]]:
            await directory.settings(conn, org)
            credential_type, _ = await store.get(
                conn, org, "credential_type", body.credential_type_id, CredentialTypeState
            )
            if body.company_id is not None:
                company, _ = await store.get(conn, org, "company", body.company_id, CompanyState)
                if company is None:
                    raise InvalidError("no such company", "body.company_id")
            if body.group_id is not None:
                group, _ = await store.get(conn, org, "group", body.group_id, GroupState)
                if group is None:
                    raise InvalidError("no such group", "body.group_id")
            existing = await store.select(conn, org, "requirement", RequirementState)
            same = next(
                (
                    r.requirement_id
                    for r in existing
                    if r.model_dump(exclude={"requirement_id"})
                    == requirement.model_dump(exclude={"requirement_id"})
                ),
                None,
            )
            events = domain.add_requirement(org, requirement, credential_type, same)
            recorded = await store.save(
                conn,
                org,
                "requirement",
                requirement.requirement_id,
                0,
                events,
                requirement,
                directory.metadata(request, principal, org),
            )
            return requirement.model_dump(mode="json"), recorded

        return await directory.execute(
            request, principal, idempotency_key, body.model_dump(mode="json"), work
        )

    @router.get("/{org}/requirements")
    async def list_requirements(org: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        principal.require_organisation(org)

        async def work(conn: Conn) -> list[RequirementState]:
            return await store.select(conn, org, "requirement", RequirementState)

        requirements: list[RequirementState] = await directory.read(work)
        return {"items": [r.model_dump(mode="json") for r in requirements]}

    @router.delete("/{org}/requirements/{requirement_id}")
    async def remove_requirement(
        org: UUID,
        requirement_id: UUID,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        require_admin(principal, org)

        async def work(conn: Conn) -> tuple[dict[str, Any], list[RecordedEvent]]:
            current, version = await store.get(
                conn, org, "requirement", requirement_id, RequirementState
            )
            events = domain.remove_requirement(org, current)
            recorded = await store.save(
                conn,
                org,
                "requirement",
                requirement_id,
                version,
                events,
                None,
                directory.metadata(request, principal, org),
            )
            return {"requirement_id": str(requirement_id), "removed": True}, recorded

        return await directory.execute(request, principal, idempotency_key, "remove", work)

    # -- assessments ----------------------------------------------------------------------------

    async def save_assessment(
        org: UUID,
        assessment_id: UUID,
        body: AssessmentInput,
        request: Request,
        principal: Principal,
        key: str | None,
    ) -> dict[str, Any]:
        require_admin(principal, org)

        async def work(conn: Conn) -> tuple[dict[str, Any], list[RecordedEvent]]:
            await directory.settings(conn, org)
            _, version = await store.get(conn, org, "assessment", assessment_id, AssessmentDefined)
            types = await store.select(
                conn, org, "credential_type", CredentialTypeState, limit=100_000
            )
            events = domain.define_assessment(
                org, assessment_id, body.name, body.questions, {t.credential_type_id for t in types}
            )
            recorded = await store.save(
                conn,
                org,
                "assessment",
                assessment_id,
                version,
                events,
                events[0],
                directory.metadata(request, principal, org),
            )
            return events[0].model_dump(mode="json"), recorded

        return await directory.execute(request, principal, key, body.model_dump(mode="json"), work)

    @router.post("/{org}/assessments", status_code=201)
    async def define_assessment(
        org: UUID,
        body: AssessmentInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        return await save_assessment(org, uuid7(), body, request, principal, idempotency_key)

    @router.put("/{org}/assessments/{assessment_id}")
    async def redefine_assessment(
        org: UUID,
        assessment_id: UUID,
        body: AssessmentInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        async def exists(conn: Conn) -> None:
            found, _ = await store.get(conn, org, "assessment", assessment_id, AssessmentDefined)
            if found is None:
                raise NotFoundError("no such assessment")

        principal.require_organisation(org)
        await directory.read(exists)
        return await save_assessment(org, assessment_id, body, request, principal, idempotency_key)

    @router.get("/{org}/assessments")
    async def list_assessments(org: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        principal.require_organisation(org)

        async def work(conn: Conn) -> list[AssessmentDefined]:
            return await store.select(conn, org, "assessment", AssessmentDefined)

        found: list[AssessmentDefined] = await directory.read(work)
        return {"items": [a.model_dump(mode="json") for a in found]}

    @router.post("/{org}/assessments/{assessment_id}/answers")
    async def answer_assessment(
        org: UUID,
        assessment_id: UUID,
        body: AnswersInput,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """A worker answers for themselves; an admin may record answers for anyone."""
        principal.require_organisation(org)
        user_id = body.user_id or principal.user_id
        if user_id != principal.user_id and not principal.has_role("admin"):
            raise ProblemError(403, "Forbidden", "only admins record answers for someone else")

        async def work(conn: Conn) -> tuple[dict[str, Any], list[RecordedEvent]]:
            user, _ = await store.get(conn, org, "user", user_id, UserState)
            if user is None:
                raise InvalidError("no such user", "body.user_id")
            assessment, _ = await store.get(
                conn, org, "assessment", assessment_id, AssessmentDefined
            )
            events = domain.answer_assessment(org, assessment, user_id, body.answers)
            answer_id = f"{assessment_id}:{user_id}"
            _, version = await store.get(
                conn, org, "assessment_answer", answer_id, AssessmentAnswered
            )
            recorded = await store.save(
                conn,
                org,
                "assessment_answer",
                answer_id,
                version,
                events,
                events[0],
                directory.metadata(request, principal, org),
            )
            return events[0].model_dump(mode="json"), recorded

        return await directory.execute(
            request, principal, idempotency_key, body.model_dump(mode="json"), work
        )

    @router.get("/{org}/assessments/{assessment_id}/answers/{user_id}")
    async def get_answers(
        org: UUID, assessment_id: UUID, user_id: UUID, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        principal.require_organisation(org)
        if user_id != principal.user_id:
            require_staff(principal, org)

        async def work(conn: Conn) -> Any:
            cursor = await conn.execute(
                "SELECT state FROM entities WHERE organisation_id = %s AND kind = %s AND id = %s",
                (org, "assessment_answer", f"{assessment_id}:{user_id}"),
            )
            row = await cursor.fetchone()
            if row is None:
                raise NotFoundError("no answers recorded")
            return row[0]

        result: dict[str, Any] = await directory.read(work)
        return result

    return router
