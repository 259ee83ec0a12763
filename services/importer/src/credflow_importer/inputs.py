"""The importer API's inputs: the uploaded CSV (held to one byte past its size limit), the
files for its rows, and the changes to a draft."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import UploadFile

from credflow_common.inputs import Input
from credflow_common.problems import FieldError, ProblemError
from credflow_importer import csvfile


class ImportChanges(Input):
    media_optional: bool


MAX_MEDIA_FILES = 1000
CSV_UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}
MEDIA_UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            }
        },
    }
}


@dataclass(frozen=True)
class Upload:
    file_name: str
    head: bytes  # the file, or its first MAX_FILE_BYTES + 1 bytes when it is larger
    size: int  # the whole file's size, to name it when it is too large


async def read_upload(request: Request) -> Upload:
    """The uploaded file, holding at most one byte past the size limit in memory."""
    limit = csvfile.MAX_FILE_BYTES + 1
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ProblemError(
                422,
                "Request is not valid",
                "send the CSV as the `file` part",
                errors=[FieldError("body.file", "field required")],
            )
        head = await upload.read(limit)
        return Upload(upload.filename or "import.csv", head, upload.size or len(head))
    if not content_type.startswith(("text/csv", "application/csv", "application/octet-stream")):
        raise ProblemError(
            415,
            "Unsupported media type",
            "send the CSV as text/csv, or as multipart/form-data with a `file` part",
        )
    chunks = []
    size = 0
    async for chunk in request.stream():
        if size < limit:
            chunks.append(chunk)
        size += len(chunk)  # past the limit, counted and dropped
    file_name = request.query_params.get("file_name", "import.csv")
    return Upload(file_name, b"".join(chunks)[:limit], size)


async def read_media(request: Request) -> list[UploadFile]:
    """The files of a multipart `files` upload (at least one)."""
    form = await request.form(max_files=MAX_MEDIA_FILES)
    uploads = [u for u in form.getlist("files") if isinstance(u, UploadFile)]
    if not uploads:
        raise ProblemError(
            422,
            "Request is not valid",
            "send the files as multipart `files` parts",
            errors=[FieldError("body.files", "field required")],
        )
    return uploads
