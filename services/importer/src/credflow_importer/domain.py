"""The import job's rules, as pure functions (PRODUCT.md, "Bulk import").

A job is a `draft` while its file is reviewed (uploads replace it; media are matched; media
may be marked optional), then `finishing` once finish is pressed (its valid rows are sent to
the submission service, each exactly once), then `completed` when every sent row is a
credential. Pressing finish again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID, uuid5

from credflow_common.errors import ConflictError

Status = Literal["draft", "finishing", "completed"]

# Credential ids derive from (import, row): a command sent or applied twice names the same
# credential, which the submission service records once.
CREDENTIAL_NAMESPACE = UUID("0c6f3c52-5b8e-4d57-9d7b-6f0d2b8e1a41")


def credential_id_for(import_id: UUID, row_number: int) -> UUID:
    return uuid5(CREDENTIAL_NAMESPACE, f"{import_id}:{row_number}")


@dataclass(frozen=True)
class Job:
    status: Status
    valid_rows: int
    rows_missing_media: int
    media_optional: bool
    file_rejected: bool


def check_replace(job: Job) -> None:
    if job.status != "draft":
        raise ConflictError(f"the import is {job.status}: its file can no longer change")


def check_finish(job: Job) -> bool:
    """True when finishing starts now; False when it had started already (finish pressed
    again). Raises when there is nothing to finish or media are still missing."""
    if job.status != "draft":
        return False
    if job.file_rejected or job.valid_rows == 0:
        raise ConflictError("the import has no valid row: fix the file and upload it again")
    if job.rows_missing_media and not job.media_optional:
        raise ConflictError(
            f"{job.rows_missing_media} row(s) of types that require media have no file: upload"
            " their files, or mark media optional to add them later"
        )
    return True


def is_complete(status: Status, unsettled_rows: int) -> bool:
    return status == "finishing" and unsettled_rows == 0
