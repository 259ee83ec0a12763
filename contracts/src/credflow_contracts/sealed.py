"""Personal fields, sealed with the data key of the person they are about (crypto-shredding).

A personal field (a name, an email, a certification number, a comment...) travels and rests as
a `Sealed` value: AES-256-GCM under the person's 256-bit data key, with the event's id and the
field's name as associated data, so that a sealed value copied into another event or field does
not open. The data key exists in one place only (the directory's key store, wrapped by a
key-encryption key); erasing the person destroys it, and every copy of every sealed value about
them, in every topic, replica and backup, can no longer be opened.

The shape on the wire (JSON):

    {"subject": "<user id whose key sealed it>", "sealed": "<base64url(nonce | ciphertext | tag)>"}

Opening needs `cryptography` (`pip install credflow-contracts[sealed]`).
"""

from __future__ import annotations

import base64
import functools
import os
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

NONCE_BYTES = 12
KEY_BYTES = 32


class Sealed(BaseModel):
    """A personal field sealed with its subject's data key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: UUID = Field(description="The person whose data key sealed the value.")
    sealed: str = Field(
        min_length=1,
        description="base64url (no padding) of a 12-byte nonce, the AES-256-GCM ciphertext and"
        " its 16-byte tag; the associated data is `credflow:<event id>:<field>`.",
    )


class SealBrokenError(ValueError):
    """The value does not open with this key and associated data: another key (or another
    person's), another event or field, or altered bytes."""


def associated_data(event_id: UUID, field: str) -> bytes:
    """What binds a sealed value to its place: the event's id and the field's name."""
    return f"credflow:{event_id}:{field}".encode()


def seal(data_key: bytes, subject: UUID, plaintext: str, event_id: UUID, field: str) -> Sealed:
    return Sealed(subject=subject, sealed=seal_text(data_key, plaintext, event_id, field))


def unseal(data_key: bytes, value: Sealed, event_id: UUID, field: str) -> str:
    return unseal_text(data_key, value.sealed, event_id, field)


@functools.lru_cache(maxsize=4096)
def _aead(data_key: bytes) -> Any:
    """The cipher of a key (a batch seals and opens many fields with the same few keys)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(data_key) != KEY_BYTES:
        raise ValueError(f"a data key has {KEY_BYTES} bytes, not {len(data_key)}")
    return AESGCM(data_key)


def seal_text(data_key: bytes, plaintext: str, event_id: UUID, field: str) -> str:
    """The `sealed` text of `plaintext`: base64url(nonce | ciphertext | tag)."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = _aead(data_key).encrypt(
        nonce, plaintext.encode("utf-8"), associated_data(event_id, field)
    )
    return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")


def unseal_text(data_key: bytes, sealed: str, event_id: UUID, field: str) -> str:
    from cryptography.exceptions import InvalidTag

    try:
        raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
        opened = _aead(data_key).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data(event_id, field)
        )
        return str(opened.decode("utf-8"))
    except (InvalidTag, ValueError) as exc:
        raise SealBrokenError(f"{field} does not open with this key") from exc
