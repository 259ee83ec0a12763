"""structlog set-up: JSON in production, a readable console renderer in development.

Context such as tenant, correlation and causation ids is bound with
`structlog.contextvars.bind_contextvars` by the HTTP middleware and the consumers, so every line
written while handling a request or a message carries them.

Logs hold ids, never personal data. credflow's own lines name ids only; what a library or an
error message may carry (an email in an SMTP refusal, a value in pydantic's `input_value=` or
in PostgreSQL's `Key (email)=(...)` detail) is masked by `without_personal_data` on every line,
ours and the libraries', before it is written.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    # pydantic: "input_value='Pat Smith'", "input_value={'name': ...}"
    (re.compile(r"input_value=(?:'[^']*'|\"[^\"]*\"|\{.*?\}(?=, input_type)|\S+)"),
     "input_value=<masked>"),
    # PostgreSQL: "Key (organisation_id, email_lower)=(..., pat@x.test) already exists"
    (re.compile(r"(Key \([^)]*\))=\(.*?\)(?= already| is not|\.|$)", re.MULTILINE),
     r"\1=(<masked>)"),
    (re.compile(r"Failing row contains \(.*\)"), "Failing row contains (<masked>)"),
)  # fmt: skip


def mask(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value


def without_personal_data(
    _: Any, __: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: every text of the line (its message, its fields, a rendered
    exception) with emails and the values errors quote masked."""
    for key, value in event.items():
        event[key] = _masked(value)
    return event


def configure_logging(level: str = "INFO", fmt: Literal["json", "console"] = "console") -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        without_personal_data,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries (uvicorn, aiokafka, psycopg) log through the standard library; route their
    # records through the same renderer so one process writes one format.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared[1:],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # While a broker is out, aiokafka logs each failed connection and fetch, thousands of lines
    # a minute; credflow's own tasks say once when an outage begins and ends.
    handler.addFilter(OncePerWindow(window_s=30.0, loggers=("aiokafka", "psycopg.pool")))


class OncePerWindow(logging.Filter):
    """Lets a message of `loggers` (by its template) through once per `window_s`; the next one
    that passes says how many were held back. Other loggers' records pass untouched."""

    def __init__(self, window_s: float, loggers: tuple[str, ...] = ("",)) -> None:
        super().__init__()
        self.window_s = window_s
        self.loggers = loggers
        self.last: dict[tuple[str, object], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.loggers):
            return True
        key = (record.name, record.msg)
        passed_at, held = self.last.get(key, (float("-inf"), 0))
        if record.created - passed_at < self.window_s:
            self.last[key] = (passed_at, held + 1)
            return False
        if held:
            record.msg = f"{record.msg} (and {held} more like it in the last {self.window_s:.0f} s)"
        self.last[key] = (record.created, 0)
        return True
