"""Logs hold ids, never personal data: what an error or a library quotes (an email, a value in
pydantic's `input_value=` or PostgreSQL's `Key (...)=(...)`) is masked on every line, credflow's
own and the libraries', exceptions included."""

from __future__ import annotations

import logging

import pytest
import structlog
from pydantic import BaseModel, ValidationError

from credflow_common.logging import configure_logging, mask
from credflow_contracts.ids import uuid7

MARKER = "Zaphod-7f3a9"


class Person(BaseModel):
    name: int
    email: int


def test_masks_keep_ids_and_words_and_drop_values() -> None:
    org = uuid7()
    assert mask(f"mail to {MARKER.lower()}@example.test refused") == "mail to <email> refused"
    detail = (
        f'duplicate key value violates unique constraint "users_email_unique"\\n'
        f"DETAIL:  Key (organisation_id, email_lower)=({org}, {MARKER}@x.test) already exists."
    )
    masked = mask(detail)
    assert MARKER not in masked
    assert "Key (organisation_id, email_lower)=(<masked>) already exists" in masked
    assert mask(f"Failing row contains ({org}, {MARKER}, null).") == (
        "Failing row contains (<masked>)."
    )
    assert (
        mask(f"organisation {org} user {org}: 3 rows") == f"organisation {org} user {org}: 3 rows"
    )


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_no_marker_reaches_a_log_line(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", fmt)  # type: ignore[arg-type]
    log = structlog.get_logger("test")
    log.warning("mail refused", error=f"{{'{MARKER}@example.test': (550, 'no such user')}}")
    try:
        Person.model_validate({"name": MARKER, "email": f"{MARKER}@example.test"})
    except ValidationError:
        log.exception("a validation failed")
    try:
        Person.model_validate({"name": MARKER, "email": 1})
    except ValidationError:
        logging.getLogger("some.library").exception("a library's failure")
    logging.getLogger("some.library").warning("sending to %s", f"{MARKER}@example.test")
    written = capsys.readouterr().err
    assert "a validation failed" in written
    assert "a library's failure" in written
    assert "ValidationError" in written, "the kind of error stays"
    assert MARKER not in written
    assert MARKER.lower() not in written
