"""Requests of the submission API: the body models (unknown fields are refused, 422 naming the
field), the headers commands honour, and `read_input` for bodies sent as JSON or as multipart
(a `data` JSON part beside the `files`)."""

from __future__ import annotations

from typing import Annotated, ClassVar, TypeVar
from uuid import UUID

from fastapi import Depends, Header, Request
from pydantic import AfterValidator, BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile as StarletteUpload

from credflow_common.inputs import Input, Patch, parse_json, single_line
from credflow_common.problems import FieldError, ProblemError
from credflow_contracts.dates import CalendarDate
from credflow_contracts.events.values import Certification, Issuer

Text = Annotated[str, Field(min_length=1, max_length=2000)]


class VersionInput(Input):
    title: Annotated[str, AfterValidator(single_line)] | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        description="The name on the certificate (an external course's, say).",
    )
    issued_on: CalendarDate
    expires_on: CalendarDate | None = None
    certification: Certification | None = None
    issuer: Issuer | None = None
    notes: str | None = Field(default=None, max_length=4000)


class CredentialInput(VersionInput):
    credential_type_id: UUID
    holder_id: UUID | None = Field(default=None, description="Default: the caller.")


class EditInput(Patch):
    clearable: ClassVar[frozenset[str]] = frozenset(
        {"expires_on", "certification", "issuer", "notes"}
    )

    issued_on: CalendarDate | None = None
    expires_on: CalendarDate | None = None
    certification: Certification | None = None
    issuer: Issuer | None = None
    notes: str | None = Field(default=None, max_length=4000)


class ReasonInput(Input):
    reason: Text


class SuspendInput(ReasonInput):
    until: CalendarDate | None = None


class ReinstateInput(Input):
    note: str | None = Field(default=None, max_length=2000)


class DeleteManyInput(Input):
    credential_ids: list[UUID] = Field(min_length=1, max_length=1000)
    reason: str | None = Field(default=None, max_length=2000)


Model = TypeVar("Model", bound=BaseModel)
IfMatchHeader = Annotated[
    int | None,
    Header(alias="If-Match", ge=0, le=2**31 - 1, description="the version you read"),
]


def if_match_header(if_match: IfMatchHeader = None) -> int | None:
    return if_match


IfMatch = Annotated[int | None, Depends(if_match_header)]
"""The version the caller read (a dependency, so it follows `Asking`'s Idempotency-Key)."""
MULTIPART_BODY = {
    "requestBody": {
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "data": {"type": "string", "description": "the JSON fields"},
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    },
                }
            },
        }
    }
}


def validation_problem(exc: ValidationError, prefix: str) -> ProblemError:
    errors = [
        FieldError(".".join([prefix, *(str(p) for p in e["loc"])]), e["msg"], e["type"])
        for e in exc.errors()
    ]
    return ProblemError(
        422, "Request is not valid", f"{len(errors)} field(s) failed validation", errors=errors
    )


async def read_input(request: Request, model: type[Model]) -> tuple[Model, list[StarletteUpload]]:
    """JSON, or multipart with a `data` JSON part and `files`."""
    content_type = request.headers.get("content-type", "")
    files: list[StarletteUpload] = []
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        raw = form.get("data")
        files = [f for f in form.getlist("files") if isinstance(f, StarletteUpload)]
        if not isinstance(raw, str):
            raise ProblemError(
                422,
                "Request is not valid",
                "the `data` part is missing",
                errors=[FieldError("body.data", "field required")],
            )
        document = parse_json(raw, "body")
    else:
        document = parse_json(await request.body() or b"{}", "body")
    try:
        return model.model_validate(document), files
    except ValidationError as exc:
        raise validation_problem(exc, "body") from exc
