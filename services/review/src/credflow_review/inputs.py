"""The review API's request bodies."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from credflow_common.inputs import Input
from credflow_contracts.events.values import ReviewEdits


class ValidateInput(Input):
    comment: str | None = Field(default=None, max_length=4000)
    edits: ReviewEdits | None = None
    internal_equivalent_id: UUID | None = None


class RejectInput(Input):
    comment: str = Field(max_length=4000, description="Required: tell the holder why.")
    edits: ReviewEdits | None = None
    internal_equivalent_id: UUID | None = Field(
        default=None, description="Kept with the credential: its next version counts as it."
    )


class BulkApproveInput(Input):
    review_ids: list[UUID] | None = Field(default=None, max_length=20_000)
    import_id: UUID | None = None
    comment: str | None = Field(default=None, max_length=4000)
