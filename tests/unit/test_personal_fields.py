"""Personal fields sealed in an event's JSON payload: every declared path (nested, in lists)
is sealed with the subject's key and bound to the event and the field; it opens with that key
only; without it (the person erased) the field is absent and named; ids and dates stay plain."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from credflow_contracts.catalogue import ALL_VERSIONS
from credflow_contracts.ids import uuid7
from credflow_contracts.personal import (
    PERSONAL_FIELDS,
    has_plain_personal_fields,
    open_payload,
    seal_payload,
    sealed_subjects,
)
from credflow_contracts.sealed import SealBrokenError

SUBMITTED = "credflow.credential.submitted.v2"
HOLDER = uuid7()
KEY = os.urandom(32)


def submitted() -> dict[str, object]:
    return {
        "credential_id": str(uuid7()), "holder_id": str(HOLDER), "issued_on": "2026-01-05",
        "title": "Marker-title", "notes": "Marker-notes",
        "certification": {"number": "Marker-number", "verification_url": None},
        "issuer": {"name": "Marker-issuer", "registration_id": "Marker-reg", "country": "AU"},
        "media": [{"media_id": str(uuid7()), "file_name": "Marker-a.png"},
                  {"media_id": str(uuid7()), "file_name": "Marker-b.pdf"}],
    }  # fmt: skip


def test_every_personal_field_is_sealed_and_nothing_else() -> None:
    event_id = uuid7()
    payload = submitted()
    sealed = seal_payload(SUBMITTED, event_id, payload, HOLDER, KEY)
    text = json.dumps(sealed)
    assert "Marker" not in text
    assert sealed["holder_id"] == str(HOLDER)
    assert sealed["issued_on"] == "2026-01-05"
    assert sealed["issuer"]["country"] == "AU", "not personal: stays plain"
    assert sealed_subjects(SUBMITTED, sealed) == {HOLDER}
    assert not has_plain_personal_fields(SUBMITTED, sealed)
    assert has_plain_personal_fields(SUBMITTED, payload)
    assert payload["title"] == "Marker-title", "the writer's payload is left as it was"

    opened = open_payload(SUBMITTED, event_id, sealed, {HOLDER: KEY}.get)
    assert opened.payload == payload
    assert opened.erased == []


def test_without_the_key_fields_are_absent_and_named() -> None:
    event_id = uuid7()
    sealed = seal_payload(SUBMITTED, event_id, submitted(), HOLDER, KEY)
    opened = open_payload(SUBMITTED, event_id, sealed, lambda subject: None)
    assert opened.payload["title"] is None
    assert opened.payload["media"][1]["file_name"] is None
    assert sorted(opened.erased) == sorted([
        "title", "certification.number", "issuer.name", "issuer.registration_id", "notes",
        "media.0.file_name", "media.1.file_name",
    ])  # fmt: skip
    placeholder = open_payload(SUBMITTED, event_id, sealed, lambda s: None, "Erased person")
    assert placeholder.payload["notes"] == "Erased person"


def test_a_sealed_value_does_not_open_in_another_event_or_with_another_key() -> None:
    sealed = seal_payload(SUBMITTED, uuid7(), submitted(), HOLDER, KEY)
    with pytest.raises(SealBrokenError):
        open_payload(SUBMITTED, uuid7(), sealed, {HOLDER: KEY}.get)
    moved = dict(sealed, notes=sealed["title"])
    with pytest.raises(SealBrokenError):
        open_payload(SUBMITTED, uuid7(), moved, {HOLDER: KEY}.get)


def test_plain_fields_pass_through_and_sealing_twice_changes_nothing() -> None:
    event_id, payload = uuid7(), submitted()
    assert open_payload(SUBMITTED, event_id, payload, lambda s: None).payload == payload
    once = seal_payload(SUBMITTED, event_id, payload, HOLDER, KEY)
    assert seal_payload(SUBMITTED, event_id, once, HOLDER, KEY) == once


def test_every_declared_type_exists_and_every_path_names_a_field() -> None:
    types = {cls.TYPE: cls for cls in ALL_VERSIONS}
    for event_type, paths in PERSONAL_FIELDS.items():
        assert event_type in types, event_type
        schema = json.dumps(types[event_type].model_json_schema())
        for path in paths:
            leaf = path.rsplit(".", 1)[-1]
            assert f'"{leaf}"' in schema, (event_type, path)


def test_altered_or_malformed_sealed_text_is_refused() -> None:
    event_id = uuid7()
    sealed = seal_payload(SUBMITTED, event_id, submitted(), HOLDER, KEY)
    text = sealed["notes"]["sealed"]
    flipped = text[:20] + ("A" if text[20] != "A" else "B") + text[21:]
    for bad in (flipped, text + "!", "not base64 at all ~", text[:10]):
        altered = dict(sealed, notes={"subject": str(HOLDER), "sealed": bad})
        with pytest.raises(SealBrokenError):
            open_payload(SUBMITTED, event_id, altered, {HOLDER: KEY}.get)


def test_each_field_has_a_nonce_of_its_own() -> None:
    event_id, payload = uuid7(), submitted()
    media: Any = payload["media"]
    media[1]["file_name"] = media[0]["file_name"]
    sealed = seal_payload(SUBMITTED, event_id, payload, HOLDER, KEY)
    first, second = (m["file_name"]["sealed"] for m in sealed["media"])
    assert first[:16] != second[:16], "the same text sealed twice shares no nonce"
    again = seal_payload(SUBMITTED, event_id, payload, HOLDER, KEY)
    assert again["title"]["sealed"] != sealed["title"]["sealed"]
