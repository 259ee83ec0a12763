"""The credential form (add, add a version, edit the latest version): what the person typed,
read into the API's JSON, with a message per field for what cannot be sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData, UploadFile

from credflow_console import dates
from credflow_console.api import ApiError

FIELDS = ("credential_type_id", "holder_id", "title", "issued_on", "expires_on",
          "certification_number", "issuer_name", "notes")  # fmt: skip
API_FIELD_TO_FORM = {"certification": "certification_number", "issuer": "issuer_name",
                     "media": "files", "data": "form"}  # fmt: skip


@dataclass
class CredentialForm:
    values: dict[str, str] = field(default_factory=dict)
    files: list[UploadFile] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, form: FormData) -> CredentialForm:
        values = {name: str(form.get(name) or "").strip() for name in FIELDS}
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
        return cls(values, files)

    def data(self, date_format: str, with_type: bool) -> dict[str, Any]:
        """The API's JSON; fills `errors` for dates that cannot be read."""
        body: dict[str, Any] = {}
        if with_type:
            body["credential_type_id"] = self.values["credential_type_id"] or None
            if self.values["holder_id"]:
                body["holder_id"] = self.values["holder_id"]
        for name in ("issued_on", "expires_on"):
            try:
                day = dates.parse(self.values[name], date_format)
            except ValueError as exc:
                self.errors[name] = str(exc)
                continue
            if day is not None:
                body[name] = day.isoformat()
        if not self.values["issued_on"] and "issued_on" not in self.errors:
            self.errors["issued_on"] = "the date it was issued is required"
        for name, value in (("title", self.values["title"]), ("notes", self.values["notes"])):
            if value:
                body[name] = value
        if self.values["certification_number"]:
            body["certification"] = {"number": self.values["certification_number"]}
        if self.values["issuer_name"]:
            body["issuer"] = {"name": self.values["issuer_name"]}
        return body

    async def uploads(self) -> list[tuple[str, tuple[str, bytes, str]]]:
        return [
            ("files", (f.filename or "file", await f.read(),
                       f.content_type or "application/octet-stream"))
            for f in self.files
        ]  # fmt: skip

    def refused(self, error: ApiError) -> None:
        """The API's refusal, each message beside its field (or above the form)."""
        for name, message in error.field_errors().items():
            self.errors[API_FIELD_TO_FORM.get(name, name)] = message
        if not self.errors:
            self.errors["form"] = error.detail
        elif not any(name in FIELDS or name == "files" for name in self.errors):
            self.errors.setdefault("form", error.detail)


def from_version(version: dict[str, Any], date_format: str) -> dict[str, str]:
    """A form filled with a version's values (edit the latest version; renew)."""
    return {
        "title": version.get("title") or "",
        "issued_on": dates.show(version.get("issued_on"), date_format),
        "expires_on": dates.show(version.get("expires_on"), date_format),
        "certification_number": (version.get("certification") or {}).get("number") or "",
        "issuer_name": (version.get("issuer") or {}).get("name") or "",
        "notes": version.get("notes") or "",
    }
