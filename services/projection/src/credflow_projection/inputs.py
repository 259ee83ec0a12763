"""The views' query parameters: paging, filters, and the position a view waits for."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query

from credflow_common.problems import FieldError, ProblemError
from credflow_projection.queries import STATUSES, CredentialFilters, Page

Body = dict[str, Any]
MinPosition = Annotated[
    UUID | None,
    Query(description="Wait (bounded) until the views include this event (a write's position)."),
]
Limit = Annotated[int, Query(ge=1, le=500)]
Compliant = Annotated[
    bool | None, Query(description="Only the workers who are (true) or are not (false) compliant.")
]
Cursor = Annotated[
    str | None, Query(max_length=1000, description="The `next_cursor` of the previous page.")
]


def credential_filters(
    status: list[str] | None,
    *,
    credential_type_id: UUID | None,
    company_id: UUID | None,
    worker_id: UUID | None,
    expiring_within_days: int | None,
    q: str | None,
) -> CredentialFilters:
    unknown = [s for s in status or [] if s not in STATUSES or s == "required"]
    if unknown:
        virtual = (
            " (`required` rows are not credentials: the worker profile and the company"
            " view list them)" if "required" in unknown else ""
        )  # fmt: skip
        raise ProblemError(
            422, "Unprocessable Content", "unknown status filter",
            errors=[FieldError("query.status", f"{', '.join(unknown)}: use one of "
                               + ", ".join(s for s in STATUSES if s != "required")
                               + virtual)],
        )  # fmt: skip
    return CredentialFilters(
        statuses=status or (),
        credential_type_id=credential_type_id,
        company_id=company_id,
        holder_id=worker_id,
        expiring_within_days=expiring_within_days,
        text=q or None,
    )


def bad_cursor() -> ProblemError:
    return ProblemError(
        422, "Unprocessable Content", "invalid cursor",
        errors=[FieldError("query.cursor", "use the next_cursor of a previous page")],
    )  # fmt: skip


async def one_page(fetch: Awaitable[Page]) -> Page:
    """A page of a keyset-paged view; a cursor this service did not hand out is a 422."""
    try:
        return await fetch
    except ValueError as exc:
        raise bad_cursor() from exc
