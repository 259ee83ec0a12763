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

import binascii
import functools
import os
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

try:
    from cryptography.exceptions import InvalidTag

    _BROKEN: tuple[type[Exception], ...] = (InvalidTag, ValueError)
except ImportError:  # opening needs the `sealed` extra; `_aead` says so when it is missing
    _BROKEN = (ValueError,)


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
    return seal_bound(data_key, plaintext, associated_data(event_id, field))


def unseal_text(data_key: bytes, sealed: str, event_id: UUID, field: str) -> str:
    return unseal_bound(data_key, sealed, associated_data(event_id, field), field)


def seal_bound(data_key: bytes, plaintext: str, associated: bytes) -> str:
    """`seal_text` with its associated data given."""
    return seal_many(data_key, [(plaintext, associated)])[0]


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def seal_many(data_key: bytes, fields: Sequence[tuple[str, bytes]]) -> list[str]:
    """The `sealed` texts of (plaintext, associated data) pairs under one key, each with a
    nonce of its own (drawn together: an event seals several fields)."""
    encrypt = _aead(data_key).encrypt
    nonces = os.urandom(NONCE_BYTES * len(fields))
    texts = []
    for index, (plaintext, associated) in enumerate(fields):
        nonce = nonces[index * NONCE_BYTES : (index + 1) * NONCE_BYTES]
        raw = nonce + encrypt(nonce, plaintext.encode("utf-8"), associated)
        encoded = binascii.b2a_base64(raw, newline=False).translate(_URLSAFE)
        texts.append(encoded.rstrip(b"=").decode("ascii"))
    return texts


_URLSAFE_BACK = bytes.maketrans(b"-_", b"+/")


def unseal_bound(data_key: bytes, sealed: str, associated: bytes, field: str) -> str:
    try:
        padded = sealed.encode("ascii").translate(_URLSAFE_BACK) + b"=" * (-len(sealed) % 4)
        raw = binascii.a2b_base64(padded, strict_mode=True)
        opened = _aead(data_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated)
        return str(opened.decode("utf-8"))
    except _BROKEN as exc:  # binascii.Error and UnicodeError are ValueErrors
        raise SealBrokenError(f"{field} does not open with this key") from exc
