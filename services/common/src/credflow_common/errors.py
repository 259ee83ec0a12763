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
    """A command a service's domain refuses. `field` names the command's field at fault
    (`expires_on`, `questions.2.question_id`) when there is one. The class says what kind of
    refusal it is; the HTTP layer (`problems.status_of`) maps each class to a status code and
    `field` to the request path (`body.expires_on`). Domain code raises these and never deals
    with HTTP; a refusal on Kafka (an import's row) names the same field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFoundError(DomainError):
    """No such thing (or none the caller may see)."""


class ForbiddenError(DomainError):
    """The caller may not do this."""


class ConflictError(DomainError):
    """The command makes no sense in the current state."""


class InvalidError(DomainError):
    """The command's content is not acceptable."""


class TooLargeError(InvalidError):
    """A file (or other content) over the size allowed."""


class UnsupportedKindError(InvalidError):
    """A file of a kind that is not accepted."""
