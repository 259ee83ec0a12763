"""The six services' public HTTP APIs, called with the signed-in person's token.

The console owns no data: every page is built from these calls. A refusal keeps the service's
problem document (`ApiError`), so a page can show each field's message beside its field; a
service that cannot be reached (or answers 502-504) is `UnavailableError`, which pages turn into a
503 page rather than an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import httpx

from credflow_console.settings import ConsoleSettings

Service = Literal["directory", "submission", "review", "importer", "reminder", "views"]
Body = dict[str, Any]


@dataclass
class ApiError(Exception):
    status: int
    problem: Body = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or self.status)

    def field_errors(self) -> dict[str, str]:
        """Each refused field's message, by the field's name (`body.expires_on` -> `expires_on`;
        a multipart part's `data.issued_on` -> `issued_on`)."""
        found: dict[str, str] = {}
        for error in self.problem.get("errors") or []:
            parts = str(error.get("path", "")).split(".")
            while parts and parts[0] in ("body", "data", "query"):
                parts = parts[1:]
            name = parts[0] if parts else ""
            found.setdefault(name, str(error.get("message", "")))
        return found


class UnavailableError(Exception):
    """A service could not answer now; the page should say so and let the person retry."""


class Api:
    """One shared connection pool for every service."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.urls: dict[Service, str] = {
            "directory": settings.directory_url, "submission": settings.submission_url,
            "review": settings.review_url, "importer": settings.importer_url,
            "reminder": settings.reminder_url, "views": settings.views_url,
        }  # fmt: skip
        self.client = httpx.AsyncClient(
            timeout=settings.api_timeout_s,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def request(self, token: str, method: str, service: Service, path: str,
                      **kwargs: Any) -> httpx.Response:  # fmt: skip
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        stream = kwargs.pop("stream", False)
        try:
            request = self.client.build_request(
                method, self.urls[service] + path, headers=headers, **kwargs
            )
            response = await self.client.send(request, stream=stream)
        except httpx.TransportError as exc:
            raise UnavailableError(f"{service} cannot be reached: {exc!r}") from exc
        if stream and response.status_code >= 400:
            await response.aread()
        if response.status_code in (502, 503, 504):
            raise UnavailableError(f"{service} answered {response.status_code}")
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:500]}
            raise ApiError(response.status_code, problem if isinstance(problem, dict) else {})
        return response


@dataclass(frozen=True)
class Caller:
    """The APIs as one person sees them, scoped to their organisation."""

    api: Api
    token: str
    organisation_id: UUID

    def _path(self, path: str) -> str:
        return f"/organisations/{self.organisation_id}{path}"

    async def get(self, service: Service, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v not in (None, "", [])}
        response = await self.api.request(self.token, "GET", service, self._path(path),
                                          params=query)  # fmt: skip
        return response.json()

    async def stream(self, service: Service, path: str, **params: Any) -> httpx.Response:
        """A GET whose body is read as it arrives (`aiter_bytes`, then `aclose`)."""
        query = {k: v for k, v in params.items() if v not in (None, "", [])}
        return await self.api.request(self.token, "GET", service, self._path(path),
                                      params=query, stream=True)  # fmt: skip

    async def send(self, method: str, service: Service, path: str, key: str | None = None,
                   **kwargs: Any) -> Any:  # fmt: skip
        """A write; `key` (the form's id) makes a resubmitted form a replay, not a second
        write."""
        headers = {**kwargs.pop("headers", {}),
                   **({"Idempotency-Key": f"console:{key}"} if key else {})}  # fmt: skip
        response = await self.api.request(
            self.token, method, service, self._path(path), headers=headers, **kwargs
        )
        return response.json() if response.content else {}
