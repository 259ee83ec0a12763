"""What every command route needs from its request, in one dependency, and one way to run it.

A route names its input and its command; the plumbing is here:

    @router.post("/{org}/companies", status_code=201)
    async def create_company(org: UUID, body: CompanyInput, asking: Asking) -> Body:
        return await service.create_company(asking.command(org, body), body)

`Asking` carries who asks (the principal), the correlation id, the idempotency key and the
request path (part of a command's fingerprint: the same key on another route is another
command). `asking.command(org, payload)` binds them to one organisation: the metadata of the
events it records and the caller its idempotency key belongs to. `run` executes a command's
work in one transaction, honouring the key, and answers with its body and `position`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Header, Request
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from credflow_common import idempotency
from credflow_common.auth import CurrentPrincipal, Principal
from credflow_common.eventstore import Metadata, RecordedEvent

Conn = AsyncConnection[Any]
Body = dict[str, Any]
Work = Callable[[Conn], Awaitable[tuple[Body, Sequence[RecordedEvent]]]]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


@dataclass(frozen=True)
class Command:
    """One command of one caller in one organisation: what its events and its idempotency key
    are recorded under."""

    organisation_id: UUID
    principal: Principal
    correlation_id: UUID | None
    idempotency_key: str | None
    fingerprint: Any  # the route and the command's content: a repeated key must match it

    @property
    def actor_id(self) -> UUID:
        return self.principal.user_id

    @property
    def metadata(self) -> Metadata:
        return Metadata(self.organisation_id, self.correlation_id, actor_id=self.actor_id)

    @property
    def caller(self) -> idempotency.Caller:
        return idempotency.Caller(self.principal.organisation_id, self.principal.user_id)


async def run(pool: AsyncConnectionPool[Conn], command: Command, work: Work) -> Body:
    """`work` in one transaction, honouring the command's idempotency key; its body plus
    `position` (the id of its last event, for read-your-writes)."""
    return await idempotency.run_command(
        pool, command.caller, command.idempotency_key, list(command.fingerprint), work
    )


@dataclass(frozen=True)
class RequestContext:
    principal: Principal
    correlation_id: UUID | None
    idempotency_key: str | None
    path: str

    def command(self, organisation_id: UUID, payload: Any) -> Command:
        return Command(organisation_id, self.principal, self.correlation_id,
                       self.idempotency_key, (self.path, payload))  # fmt: skip


def request_context(
    request: Request, principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None
) -> RequestContext:
    correlation_id = getattr(request.state, "correlation_id", None)
    return RequestContext(principal, correlation_id, idempotency_key, request.url.path)


def unkeyed_command(request: Request, principal: Principal, organisation_id: UUID) -> Command:
    """The command of a route that takes no idempotency key (it answers item by item)."""
    return request_context(request, principal).command(organisation_id, None)


Asking = Annotated[RequestContext, Depends(request_context)]
