"""Personal fields sealed with their person's data key, and data keys wrapped by a
key-encryption key (the building blocks of crypto-shredding, issue 33)."""

from __future__ import annotations

import stat
from pathlib import Path
from uuid import UUID

import pytest

from credflow_common.keyring import LocalKeyring, UnwrapError, new_data_key
from credflow_contracts.ids import uuid7
from credflow_contracts.sealed import SealBrokenError, Sealed, seal, unseal

PAT, SAM = uuid7(), uuid7()


def test_a_sealed_field_opens_with_its_key_in_its_place_only() -> None:
    key, event = new_data_key(), uuid7()
    sealed = seal(key, PAT, "Pat Marker-7f3a", event, "name")
    assert "Marker" not in sealed.model_dump_json()
    assert sealed.subject == PAT
    assert unseal(key, sealed, event, "name") == "Pat Marker-7f3a"
    with pytest.raises(SealBrokenError):
        unseal(new_data_key(), sealed, event, "name")  # another person's key
    with pytest.raises(SealBrokenError):
        unseal(key, sealed, uuid7(), "name")  # copied into another event
    with pytest.raises(SealBrokenError):
        unseal(key, sealed, event, "email")  # or another field
    tampered = Sealed(
        subject=PAT,
        sealed=sealed.sealed[:-2] + ("A" if sealed.sealed[-2] != "A" else "B") + sealed.sealed[-1],
    )
    with pytest.raises(SealBrokenError):
        unseal(key, tampered, event, "name")


def test_the_same_value_sealed_twice_looks_different() -> None:
    key, event = new_data_key(), uuid7()
    assert seal(key, PAT, "same", event, "name") != seal(key, PAT, "same", event, "name")


def test_the_wire_shape_is_a_subject_and_base64url() -> None:
    sealed = seal(new_data_key(), PAT, "x", uuid7(), "notes")
    document = sealed.model_dump(mode="json")
    assert set(document) == {"subject", "sealed"}
    assert UUID(document["subject"]) == PAT
    assert set(document["sealed"]) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )


def test_a_keyring_is_created_once_private_and_loads_again(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring = LocalKeyring.load(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = LocalKeyring.load(path)
    assert again == ring
    data_key = new_data_key()
    wrapped = ring.wrap(data_key, f"org/{PAT}")
    assert data_key.hex() not in wrapped
    assert again.unwrap(wrapped, f"org/{PAT}") == data_key


def test_a_wrapped_key_unwraps_only_for_its_owner(tmp_path: Path) -> None:
    ring = LocalKeyring.load(tmp_path / "keyring.json")
    wrapped = ring.wrap(new_data_key(), f"org/{PAT}")
    with pytest.raises(UnwrapError):
        ring.unwrap(wrapped, f"org/{SAM}")
    with pytest.raises(UnwrapError):
        LocalKeyring.load(tmp_path / "another.json").unwrap(wrapped, f"org/{PAT}")


def test_rotation_keeps_old_keys_until_every_data_key_is_rewrapped(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    old = LocalKeyring.load(path)
    data_key = new_data_key()
    wrapped = old.wrap(data_key, "org/pat")
    new = old.rotated()
    new.save(path)
    loaded = LocalKeyring.load(path)
    assert loaded.current != old.current
    assert loaded.unwrap(wrapped, "org/pat") == data_key, "the old key still unwraps"
    rewrapped = loaded.rewrap(wrapped, "org/pat")
    assert rewrapped.startswith(loaded.current + ".")
    assert loaded.rewrap(rewrapped, "org/pat") == rewrapped
    retired = LocalKeyring(loaded.current, {loaded.current: loaded.keys[loaded.current]})
    assert retired.unwrap(rewrapped, "org/pat") == data_key
    with pytest.raises(UnwrapError):
        retired.unwrap(wrapped, "org/pat")


def test_two_processes_creating_the_keyring_at_once_use_the_first(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    first, second = LocalKeyring.with_new_key({}), LocalKeyring.with_new_key({})
    first.save(path, replace=False)
    second.save(path, replace=False)  # came second: leaves the first alone
    assert LocalKeyring.load(path) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keyring.json"]
