"""RFC 9457 problem details for every error a credflow API returns.

Bodies are `application/problem+json` with `type`, `title`, `status`, `detail`, and for
validation failures an `errors` list naming each offending field by its path, e.g.
`{"path": "body.expires_on", "message": "must be after issued_on"}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from credflow_common.errors import (
    ConcurrencyError,
    ConflictError,
    DomainError,
    ForbiddenError,
    IdempotencyKeyReusedError,
    InvalidError,
    NotFoundError,
    TooLargeError,
    UnsupportedKindError,
)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://credflow.dev/problems/"
log = structlog.get_logger("credflow.http")


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str
    code: str | None = None


@dataclass
class ProblemError(Exception):
    """Raise from a handler to answer with a problem document."""

    status: int
    title: str
    detail: str | None = None
    type: str = "about:blank"
    errors: Sequence[FieldError] = field(default_factory=tuple)
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail or self.title)


def problem_response(problem: ProblemError, request: Request) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "instance": request.url.path,
    }
    if problem.detail:
        body["detail"] = problem.detail
    if problem.errors:
        body["errors"] = [
            {k: v for k, v in vars(error).items() if v is not None} for error in problem.errors
        ]
    body.update(problem.extra)
    headers = dict(problem.headers)
    if problem.status == 401:  # RFC 6750: say which scheme to authenticate with
        headers.setdefault("WWW-Authenticate", 'Bearer realm="credflow"')
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


def _path(location: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in location)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(path=_path(error["loc"]), message=error["msg"], code=error["type"])
            for error in exc.errors()
        ]
        return problem_response(
            ProblemError(
                422,
                "Request is not valid",
                f"{len(errors)} field(s) failed validation",
                type=TYPE_BASE + "validation",
                errors=errors,
            ),
            request,
        )

    @app.exception_handler(DomainError)
    async def on_domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(domain_problem(exc), request)

    @app.exception_handler(ConcurrencyError)
    async def on_conflict(request: Request, exc: ConcurrencyError) -> JSONResponse:
        return problem_response(
            ProblemError(
                409,
                "Concurrent modification",
                f"{exc} — reload it and try again",
                type=TYPE_BASE + "concurrency",
                extra={"expected_version": exc.expected_version}
                | ({"actual_version": exc.actual_version} if exc.actual_version else {}),
            ),
            request,
        )

    @app.exception_handler(IdempotencyKeyReusedError)
    async def on_key_reuse(request: Request, exc: IdempotencyKeyReusedError) -> JSONResponse:
        return problem_response(
            ProblemError(
                422,
                "Idempotency key reused",
                str(exc),
                type=TYPE_BASE + "idempotency-key-reused",
                errors=[FieldError("header.Idempotency-Key", str(exc))],
            ),
            request,
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = problem_response(
            ProblemError(exc.status_code, _title(exc.status_code), str(exc.detail)), request
        )
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return problem_response(
            ProblemError(500, "Internal error", "The error was logged; nothing was changed."),
            request,
        )


STATUS_OF_REFUSAL: dict[type[DomainError], int] = {
    NotFoundError: 404,
    ForbiddenError: 403,
    ConflictError: 409,
    TooLargeError: 413,
    UnsupportedKindError: 415,
    InvalidError: 422,
}


def status_of(exc: DomainError) -> int:
    """The HTTP status of a domain refusal: its class's, or its nearest base class's."""
    return next((STATUS_OF_REFUSAL[c] for c in type(exc).__mro__ if c in STATUS_OF_REFUSAL), 422)


def domain_problem(exc: DomainError) -> ProblemError:
    """A refusal of the domain as problem details: its field is a field of the request body."""
    errors = [FieldError(f"body.{exc.field}", exc.message)] if exc.field else []
    status = status_of(exc)
    title = "Request is not valid" if status == 422 else _title(status)
    return ProblemError(status, title, exc.message, errors=errors)


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
