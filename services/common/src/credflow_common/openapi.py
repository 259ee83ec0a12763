"""The OpenAPI document as the API really behaves, and its docs page served without a CDN.

Every error is RFC 9457 problem details (`application/problem+json`, see
`credflow_common.problems`); FastAPI's generated document shows only its own 422 shape. Here
each operation lists every error it can answer with, and the problem schema they share:

- every operation: 422 (a parameter or body field, named in `errors[].path`) and 503 (a
  dependency is out; `Retry-After` says when to try again);
- operations that need a bearer token: 401 (no token, a bad one, or a deactivated person's;
  with `WWW-Authenticate`), 403 (the caller may not) and 404 (nothing of that id here, or
  another organisation's);
- writes: 409 (the current state refuses the change, or `If-Match` names an older version);
- uploads: 400 (a multipart body that cannot be read), 413 (too large), 415 (not an accepted
  kind of file).

`/docs` is Swagger UI 5 (it reads OpenAPI 3.1) from the assets of the pinned `fastapi-offline`
package, served by the service itself, so it works on a machine without internet.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from credflow_common.problems import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "Each input at fault, by its path (`body.expires_on`, `query.q`).",
            "items": {
                "type": "object",
                "required": ["path", "message"],
                "properties": {
                    "path": {"type": "string"},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "CSV (UTF-8); cells that start like a formula get a leading `'`.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}
"""`responses=CSV_RESPONSE` on a route that answers with a CSV file."""
ERRORS = {
    "400": "The multipart body cannot be read.",
    "401": "No bearer token, an invalid one, or a deactivated person's (see WWW-Authenticate).",
    "403": "The caller may not do this.",
    "404": "Nothing with that id in the organisation (or another organisation's).",
    "409": "The current state refuses the change, or If-Match names an older version.",
    "413": "A file is larger than the organisation accepts.",
    "415": "A file (or the body) is not of an accepted kind.",
    "422": "A parameter or body field is not valid; `errors` names each by its path.",
    "503": "A dependency is unavailable; nothing was changed. Retry-After says when to retry.",
}
HEADERS = {
    "401": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    "503": {"Retry-After": {"schema": {"type": "integer"}}},
}
OPERATIONS_PATHS = ("/health", "/ready", "/metrics")
DOCS_ASSETS = files("fastapi_offline") / "static"


def error_codes(method: str, operation: dict[str, Any]) -> list[str]:
    codes = ["422", "503"]
    if operation.get("security"):
        codes += ["401", "403", "404"]
    if method != "get":
        codes.append("409")
    content = operation.get("requestBody", {}).get("content", {})
    if "multipart/form-data" in content or "text/csv" in content:
        codes += ["400", "413", "415"]
    return sorted(codes)


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with every operation's error responses described as problem details."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if path in OPERATIONS_PATHS:
                continue
            for code in error_codes(method, operation):
                responses[code] = {
                    "description": ERRORS[code],
                    "content": {PROBLEM_JSON: problem},
                    **({"headers": HEADERS[code]} if code in HEADERS else {}),
                }
    ready = schema.get("paths", {}).get("/ready", {}).get("get")
    if ready is not None:
        ready["responses"]["503"] = {
            "description": "A dependency or a background task is not available (listed).",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    metrics = schema.get("paths", {}).get("/metrics", {}).get("get")
    if metrics is not None:
        metrics["responses"]["200"] = {
            "description": "Prometheus text exposition.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    return schema


def install_openapi(app: FastAPI) -> None:
    """The truthful document at /openapi.json and Swagger UI at /docs, served locally."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(
                get_openapi(title=app.title, version=app.version, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.mount("/docs/assets", StaticFiles(directory=str(DOCS_ASSETS)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon.png",
        )
