"""The calendar credflow accepts: dates from 1900-01-01 to 2199-12-31, everywhere.

Every entry point (HTTP bodies, CSV rows, commands) checks its dates with this one rule, so a
date that would overflow later arithmetic (an expiry computed from a validity, a reminder's lead
days, a time-zone shift) never gets in. Events only ever carry dates that passed it.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Annotated

from pydantic import AfterValidator

EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)
CALENDAR_RANGE = f"between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}"


def within_calendar(day: date) -> bool:
    return EARLIEST_DATE <= day <= LATEST_DATE


def check_calendar_date(day: date) -> date:
    """Pydantic validator (and plain check): ValueError for a date outside the calendar."""
    if not within_calendar(day):
        raise ValueError(f"{day.isoformat()} is not a date {CALENDAR_RANGE}")
    return day


CalendarDate = Annotated[date, AfterValidator(check_calendar_date)]
"""A date an input may carry: 422 naming the field when it is outside the calendar."""


def add_months(day: date, months: int) -> date:
    """`day` plus calendar months, clamped to the month's last day (31 Jan + 1 month = 28 Feb).
    ValueError when the result is outside the calendar."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    if not EARLIEST_DATE.year <= year <= LATEST_DATE.year:
        raise ValueError(f"{months} months after {day.isoformat()} is not a date {CALENDAR_RANGE}")
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
