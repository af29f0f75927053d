"""Vault envelope encryption: round trips, wrong keys, nonces, associated data, the KEK file."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tearline.crypto.sealing import (
    KEY_BYTES,
    NONCE_BYTES,
    Kek,
    kek_from_text,
    load_kek,
    new_key,
    open_value,
    seal_value,
    unwrap_data_key,
    wrap_data_key,
    wrapped_key_number,
    write_kek_file,
)
from tearline.errors import ConfigError, IntegrityError

DK = bytes(range(32))
KEK = Kek(b"\x01" * 32)


@given(st.text(max_size=300), st.text(min_size=1, max_size=40), st.sampled_from(["name", "alias", "phone"]))
def test_a_sealed_value_opens_to_itself(value: str, record: str, field: str) -> None:
    sealed = seal_value(DK, record, field, value)
    assert open_value(DK, record, field, sealed) == value
    assert len(sealed) == NONCE_BYTES + len(value.encode()) + 16


def test_the_ciphertext_does_not_contain_the_value() -> None:
    value = "Ivan Petrovich Sidorov"
    assert value.encode() not in seal_value(DK, "source--1", "name", value)


def test_each_seal_uses_a_fresh_nonce() -> None:
    nonces = {seal_value(DK, "s", "name", "same value")[:NONCE_BYTES] for _ in range(2000)}
    assert len(nonces) == 2000


def test_a_value_moved_to_another_source_or_field_fails() -> None:
    sealed = seal_value(DK, "source--a", "name", "Jane Roe")
    with pytest.raises(IntegrityError, match="source--b"):
        open_value(DK, "source--b", "name", sealed)
    with pytest.raises(IntegrityError, match="fails its integrity check"):
        open_value(DK, "source--a", "alias", sealed)
    # the separator keeps (record, field) pairs apart: ("ab", "c") is not ("a", "bc")
    with pytest.raises(IntegrityError):
        open_value(DK, "source--an", "ame", seal_value(DK, "source--a", "name", "x"))


def test_a_wrong_or_altered_key_or_value_fails_cleanly() -> None:
    sealed = seal_value(DK, "s", "name", "Jane Roe")
    with pytest.raises(IntegrityError):
        open_value(new_key(), "s", "name", sealed)
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(IntegrityError):
        open_value(DK, "s", "name", flipped)
    with pytest.raises(IntegrityError, match="truncated"):
        open_value(DK, "s", "name", sealed[:20])


def test_a_data_key_wrap_opens_only_with_its_kek_and_keeps_its_number() -> None:
    wrapped = wrap_data_key(KEK, 7, DK)
    assert wrapped_key_number(wrapped) == 7
    assert unwrap_data_key(KEK, wrapped) == (7, DK)
    other = Kek(b"\x02" * 32)
    with pytest.raises(IntegrityError, match=other.kek_id):
        unwrap_data_key(other, wrapped)
    relabelled = (8).to_bytes(4, "big") + wrapped[4:]
    with pytest.raises(IntegrityError):
        unwrap_data_key(KEK, relabelled)
    assert DK not in wrapped


def test_the_key_id_is_a_fingerprint_never_the_key() -> None:
    key = b"\x05" * 32
    kid = Kek(key).kek_id
    assert len(kid) == 32 and int(kid, 16) >= 0
    assert kid not in (key.hex(), base64.b64encode(key).decode())
    assert kid != Kek(b"\x06" * 32).kek_id
    assert key.hex() not in repr(Kek(key)) and kid in repr(Kek(key))


def test_kek_text_must_be_base64_of_32_bytes() -> None:
    good = base64.b64encode(b"\x09" * 32).decode()
    assert kek_from_text(good + "\n", "x").key == b"\x09" * 32
    with pytest.raises(ConfigError, match="not valid base64"):
        kek_from_text("not base64!!", "TEARLINE_KEK")
    with pytest.raises(ConfigError, match="must be 32 bytes, not 16"):
        kek_from_text(base64.b64encode(b"x" * 16).decode(), "TEARLINE_KEK")


def test_write_and_load_a_kek_file(tmp_path: Path) -> None:
    data = tmp_path / "node"
    path = tmp_path / "secrets" / "vault.kek"
    kek = write_kek_file(path, data=data)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_kek(kek_file=str(path), kek="", data=data) == kek
    assert len(kek.key) == KEY_BYTES
    with pytest.raises(ConfigError, match="already exists"):
        write_kek_file(path, data=data)


def test_a_kek_inside_the_data_folder_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "node"
    with pytest.raises(ConfigError, match="inside the data folder"):
        write_kek_file(data / "keys" / "vault.kek", data=data)
    outside = tmp_path / "vault.kek"
    write_kek_file(outside)
    (data / "keys").mkdir(parents=True)
    inside = data / "keys" / "vault.kek"
    inside.write_bytes(outside.read_bytes())
    with pytest.raises(ConfigError, match="inside the data folder"):
        load_kek(kek_file=str(inside), kek="", data=data)
    link = tmp_path / "link.kek"
    link.symlink_to(inside)  # a link from outside to a key inside is refused too
    with pytest.raises(ConfigError, match="inside the data folder"):
        load_kek(kek_file=str(link), kek="", data=data)


def test_load_kek_needs_exactly_one_source(tmp_path: Path) -> None:
    text = base64.b64encode(b"\x03" * 32).decode()
    assert load_kek(kek_file="", kek=text, data=tmp_path).key == b"\x03" * 32
    with pytest.raises(ConfigError, match="needs a key-encryption key"):
        load_kek(kek_file="", kek="", data=tmp_path)
    with pytest.raises(ConfigError, match="set only one"):
        load_kek(kek_file=str(tmp_path / "k"), kek=text, data=tmp_path / "node")
    with pytest.raises(ConfigError, match="no key-encryption key file"):
        load_kek(kek_file=str(tmp_path / "missing.kek"), kek="", data=tmp_path / "node")
