"""Dates as each person reads and types them: in their profile's date format (or their
organisation's default), always sent to the APIs as ISO dates."""

from __future__ import annotations

from datetime import date, datetime

from credflow_contracts.dates import EARLIEST_DATE, LATEST_DATE

PATTERNS = {"DD/MM/YYYY": "%d/%m/%Y", "MM/DD/YYYY": "%m/%d/%Y", "YYYY-MM-DD": "%Y-%m-%d"}


def show(value: str | date | None, date_format: str) -> str:
    """An ISO date (as the APIs give it) in the person's format; '' for none."""
    if not value:
        return ""
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return day.strftime(PATTERNS.get(date_format, "%Y-%m-%d"))


def parse(text: str, date_format: str) -> date | None:
    """What the person typed, read in their format (ISO is always understood too); None when
    empty. ValueError, with a message for the page, when it is not a date."""
    text = text.strip()
    if not text:
        return None
    for pattern in (PATTERNS.get(date_format, "%Y-%m-%d"), "%Y-%m-%d"):
        try:
            day = datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        if not EARLIEST_DATE <= day <= LATEST_DATE:
            raise ValueError(f"dates run from {show(EARLIEST_DATE, date_format)}"
                             f" to {show(LATEST_DATE, date_format)}")  # fmt: skip
        return day
    raise ValueError(f"write the date as {date_format}")
