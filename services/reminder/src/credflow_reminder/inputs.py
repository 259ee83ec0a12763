"""The reminder API's request bodies."""

from __future__ import annotations

from pydantic import Field, field_validator

from credflow_common.inputs import Input
from credflow_reminder import domain


class SettingsInput(Input):
    enabled: bool = True
    lead_days: list[int] = Field(
        default_factory=lambda: list(domain.DEFAULT_LEAD_DAYS),
        max_length=10,
        description="Days before expiry to be reminded, 0 to 365 (0: on the day itself).",
    )
    copy_manager: bool = False

    @field_validator("lead_days")
    @classmethod
    def _lead_days(cls, value: list[int]) -> list[int]:
        return list(domain.valid_lead_days(value))
