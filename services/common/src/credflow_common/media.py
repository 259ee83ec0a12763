"""Credential files in object storage (S3 API, MinIO): written by the submission service and,
for imported rows, by the importer (at the key the submission service serves them from).

Kinds are detected from the bytes, never from the file name: PDF (`%PDF-`), PNG (its 8-byte
signature) and JPEG (`FF D8 FF`). Objects live under an organisation-scoped key
`organisations/<org>/credentials/<credential>/<media>`; they are read back only through
short-lived presigned URLs handed out after an authorisation check.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal
from urllib.parse import quote
from uuid import UUID

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
from pydantic_settings import BaseSettings, SettingsConfigDict

from credflow_common.settings import InfraSettings


class MediaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDFLOW_MEDIA_", env_file=".env", extra="ignore")

    url_expiry_s: int = 300


MediaKind = Literal["pdf", "jpeg", "png"]
CONTENT_TYPES: dict[MediaKind, str] = {
    "pdf": "application/pdf",
    "jpeg": "image/jpeg",
    "png": "image/png",
}


def detect_kind(head: bytes) -> MediaKind | None:
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    return None


EXTENSIONS: dict[MediaKind, tuple[str, ...]] = {
    "pdf": (".pdf",),
    "jpeg": (".jpg", ".jpeg"),
    "png": (".png",),
}


def download_name(file_name: str, kind: MediaKind) -> str:
    """The name a file is saved under: the uploaded name, its extension that of the kind its
    bytes are (a PNG uploaded as `statement.html` or `setup.exe` saves as `statement.png` or
    `setup.png`, never as something a computer would run or render), without path separators,
    control or bidirectional characters."""
    cleaned = "".join(
        "_" if c in "/\\" else c for c in file_name if unicodedata.category(c) not in ("Cc", "Cf")
    ).strip(" .")
    stem, dot, extension = cleaned.rpartition(".")
    if not (dot and stem and extension.isalnum() and len(extension) <= 5):
        stem = cleaned  # no extension to replace
    elif f".{extension.lower()}" in EXTENSIONS[kind]:
        return cleaned
    return f"{stem or 'file'}{EXTENSIONS[kind][0]}"


@dataclass(frozen=True)
class StoredObject:
    key: str
    kind: MediaKind
    content_type: str
    size_bytes: int
    sha256: str


def object_key(org: UUID, credential_id: UUID, media_id: UUID) -> str:
    return f"{credential_prefix(org, credential_id)}{media_id}"


def credential_prefix(org: UUID, credential_id: UUID) -> str:
    """Where every file of a credential lives, each of its versions' and its import's."""
    return f"organisations/{org}/credentials/{credential_id}/"


class MediaRemovalError(Exception):
    """The object store refused to remove some objects (they stay; a later round retries)."""


class MediaStore:
    def __init__(self, infra: InfraSettings, settings: MediaSettings | None = None) -> None:
        endpoint = infra.s3_endpoint_url
        secure = endpoint.startswith("https://")
        self.client = Minio(
            endpoint.removeprefix("https://").removeprefix("http://").rstrip("/"),
            access_key=infra.s3_access_key,
            secret_key=infra.s3_secret_key,
            secure=secure,
            # Bounded: while the object store is out, a request learns it within seconds
            # (503) instead of holding its caller for minutes of retries.
            http_client=urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=2, read=20),
                retries=urllib3.Retry(
                    total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
                ),
                maxsize=10,
            ),
        )
        self.bucket = infra.s3_bucket
        self.url_expiry = timedelta(seconds=(settings or MediaSettings()).url_expiry_s)

    async def put(self, key: str, data: bytes, kind: MediaKind) -> StoredObject:
        content_type = CONTENT_TYPES[kind]
        await asyncio.to_thread(
            self.client.put_object,
            self.bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type,
        )
        return StoredObject(key, kind, content_type, len(data), hashlib.sha256(data).hexdigest())

    async def signed_url(
        self, key: str, expires: timedelta | None = None, download_as: str | None = None
    ) -> str:
        """A URL anyone holding it may GET the object with until it expires; with
        `download_as`, browsers save it under that name instead of showing it."""
        headers: dict[str, str | list[str] | tuple[str]] | None = None
        if download_as is not None:
            ascii_name = download_as.encode("ascii", "replace").decode().replace('"', "'")
            headers = {
                "response-content-disposition": f'attachment; filename="{ascii_name}";'
                f" filename*=UTF-8''{quote(download_as, safe='')}"
            }
        url: str = await asyncio.to_thread(
            self.client.presigned_get_object, self.bucket, key, expires or self.url_expiry,
            response_headers=headers,
        )  # fmt: skip
        return url

    async def remove(self, key: str) -> None:
        try:
            await asyncio.to_thread(self.client.remove_object, self.bucket, key)
        except S3Error as exc:
            if exc.code != "NoSuchKey":
                raise

    async def remove_all(self, prefix: str) -> int:
        """Remove every object under `prefix` and every version of each (a versioned bucket
        keeps older versions, and a plain removal only hides them); how many were removed."""

        def remove() -> int:
            found = [
                DeleteObject(item.object_name, item.version_id)
                for item in self.client.list_objects(
                    self.bucket, prefix=prefix, recursive=True, include_version=True
                )
                if item.object_name is not None
            ]
            if not found:
                return 0
            errors = list(self.client.remove_objects(self.bucket, iter(found)))
            if errors:
                raise MediaRemovalError(f"{len(errors)} objects were not removed: {errors[0].code}")
            return len(found)

        return await asyncio.to_thread(remove)

    async def exists(self, key: str) -> bool:
        try:
            await asyncio.to_thread(self.client.stat_object, self.bucket, key)
            return True
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                return False
            raise
