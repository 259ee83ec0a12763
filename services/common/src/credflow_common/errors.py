"""Errors the runtime raises for callers to map (e.g. to HTTP problem details)."""

from __future__ import annotations


class ConcurrencyError(Exception):
    """Another writer appended to the stream since the caller read it (HTTP 409)."""

    def __init__(self, stream_id: str, expected_version: int, actual_version: int | None) -> None:
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        actual = "unknown" if actual_version is None else str(actual_version)
        super().__init__(
            f"stream {stream_id} is at version {actual}, not the expected {expected_version}"
        )


class IdempotencyKeyReusedError(Exception):
    """An idempotency key was sent again with a different command (HTTP 422)."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"idempotency key {key!r} was already used for a different request")


class DomainError(Exception):
    """A command a service's domain refuses. `status` is its HTTP status; `field` names the
    input at fault (a path such as `body.expires_on`) when there is one. The HTTP layer turns
    it into problem details, so domain code raises these and never deals with HTTP."""

    status = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFoundError(DomainError):
    status = 404


class ForbiddenError(DomainError):
    status = 403


class ConflictError(DomainError):
    """The command makes no sense in the current state."""

    status = 409


class InvalidError(DomainError):
    status = 422
