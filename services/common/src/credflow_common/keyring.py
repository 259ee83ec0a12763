"""Key-encryption keys: people's data keys are stored only wrapped by one of these.

`KeyEncryptionKeys` is the small interface a key-management service plugs in behind (wrap and
unwrap a data key for its owner); `LocalKeyring` keeps the keys in a file (a mounted
Kubernetes Secret in production), written on first use with mode 0600. Rotation adds a key and
makes it current: data keys wrapped under an older one still unwrap, and `rewrap` moves each to
the current one, after which the old key can be retired.

A wrapped data key reads `<key id>.<base64url(nonce | ciphertext | tag)>`: AES-256-GCM, its
associated data the owner's name (`<organisation id>/<user id>`), so a wrapped key moved to
another person's row does not unwrap.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from credflow_common.settings import state_dir

NONCE_BYTES = 12


class KeyringSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CREDFLOW_KEYRING_", env_file=".env", extra="ignore"
    )

    file: Path = Field(
        default_factory=lambda: state_dir() / "keyring" / "keyring.json",
        description="The key-encryption keys (JSON, mode 0600; created on first start if"
        " missing). Every directory instance of a deployment reads the same file.",
    )


class KeyEncryptionKeys(Protocol):
    def wrap(self, data_key: bytes, owner: str) -> str: ...
    def unwrap(self, wrapped: str, owner: str) -> bytes: ...


class UnwrapError(ValueError):
    """A wrapped key that does not unwrap: an unknown key id, another owner, altered bytes."""


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class LocalKeyring:
    current: str
    keys: dict[str, bytes]

    @classmethod
    def load(cls, path: Path) -> LocalKeyring:
        """The keyring in `path`; a new one with one key, written there, when there is none
        (two processes starting at once: the first written is the one both use)."""
        if not path.exists():
            cls.with_new_key({}).save(path, replace=False)
        document = json.loads(path.read_text())
        keys = {kid: _unb64(key) for kid, key in document["keys"].items()}
        if document["current"] not in keys:
            raise ValueError(f"{path}: the current key {document['current']!r} is not in it")
        return cls(document["current"], keys)

    @classmethod
    def with_new_key(cls, keys: dict[str, bytes]) -> LocalKeyring:
        kid = f"k{len(keys) + 1}-{secrets.token_hex(4)}"
        return cls(kid, {**keys, kid: AESGCM.generate_key(bit_length=256)})

    def rotated(self) -> LocalKeyring:
        """This keyring with a new current key (the old ones kept, to unwrap until rewrapped)."""
        return self.with_new_key(self.keys)

    def save(self, path: Path, *, replace: bool = True) -> None:
        """Write the keyring (mode 0600) in one step; `replace=False` leaves a keyring already
        there as it is."""
        document = {"current": self.current, "keys": {k: _b64(v) for k, v in self.keys.items()}}
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.touch(mode=0o600)
        temporary.write_text(json.dumps(document, indent=2))
        if replace:
            temporary.replace(path)
            return
        try:
            os.link(temporary, path)  # fails if another process wrote one first
        except FileExistsError:
            pass
        finally:
            temporary.unlink()

    def wrap(self, data_key: bytes, owner: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        wrapped = AESGCM(self.keys[self.current]).encrypt(nonce, data_key, owner.encode())
        return f"{self.current}.{_b64(nonce + wrapped)}"

    def unwrap(self, wrapped: str, owner: str) -> bytes:
        kid, _, body = wrapped.partition(".")
        key = self.keys.get(kid)
        if key is None:
            raise UnwrapError(f"no key-encryption key {kid!r} in the keyring")
        try:
            raw = _unb64(body)
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], owner.encode())
        except (InvalidTag, ValueError) as exc:
            raise UnwrapError(f"the data key of {owner} does not unwrap") from exc

    def rewrap(self, wrapped: str, owner: str) -> str:
        """The same data key, wrapped under the current key-encryption key."""
        if wrapped.partition(".")[0] == self.current:
            return wrapped
        return self.wrap(self.unwrap(wrapped, owner), owner)
