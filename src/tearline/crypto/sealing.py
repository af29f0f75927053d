"""Envelope encryption for the source vault.

Three layers, so that neither the database nor the data folder alone opens anything:

* a **key-encryption key** (KEK, 32 random bytes, base64 on disk or in ``TEARLINE_KEK``) that lives
  outside the data folder and is never written to the database; it is named by its *key id*, a
  SHA-256 fingerprint with a domain prefix (never the key);
* **data keys** (32 random bytes) that seal the values. A data key is stored only *wrapped* by a KEK
  (AES-256-GCM), one ``vault_keys`` row per (data key, KEK). A wrap is
  ``data key number (4 bytes, big endian) || nonce (12) || ciphertext+tag`` and the number is in the
  associated data, so a wrap cannot be relabelled as another data key. Rotating the KEK adds wraps
  of the same data keys under the new KEK and never touches the sealed values;
* **sealed values**: ``nonce (12) || ciphertext+tag``, AES-256-GCM with a fresh random 96-bit nonce
  per value and the record id and field name as associated data, so a ciphertext moved to another
  source or another field fails to open.

Random 96-bit nonces are safe up to about 2^32 values per data key (NIST SP 800-38D §8.3); the vault
holds far fewer, and data-key rotation starts a new count.

Everything here is pure except :func:`load_kek` and :func:`write_kek_file`, which read and write the
KEK file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import struct
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tearline.errors import ConfigError, IntegrityError

__all__ = [
    "KEY_BYTES",
    "Kek",
    "kek_from_text",
    "load_kek",
    "new_key",
    "open_value",
    "seal_value",
    "unwrap_data_key",
    "wrap_data_key",
    "wrapped_key_number",
    "write_kek_file",
]

KEY_BYTES = 32
NONCE_BYTES = 12
_VALUE_AD = b"tearline-vault-value-v1\x00"
_WRAP_AD = b"tearline-vault-data-key-v1\x00"
_KEK_ID = b"tearline-vault-kek-id-v1\x00"
_NUMBER = struct.Struct(">I")


@dataclass(frozen=True)
class Kek:
    """A key-encryption key. ``repr`` shows only the key id."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise ConfigError(f"a key-encryption key must be {KEY_BYTES} bytes, not {len(self.key)}")

    @property
    def kek_id(self) -> str:
        """The fingerprint that names this key in ``vault_keys.kek_id``: 32 hex digits."""
        return hashlib.sha256(_KEK_ID + self.key).hexdigest()[:32]

    def __repr__(self) -> str:
        return f"Kek(kek_id={self.kek_id!r})"


def new_key() -> bytes:
    """32 random bytes (a KEK or a data key)."""
    return secrets.token_bytes(KEY_BYTES)


def kek_from_text(text: str, where: str) -> Kek:
    """A KEK from its base64 text; ``where`` names the source in the error (a file or a variable)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"the key-encryption key in {where} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise ConfigError(f"the key-encryption key in {where} must be {KEY_BYTES} bytes, not {len(raw)}")
    return Kek(raw)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def load_kek(*, kek_file: str, kek: str, data: Path) -> Kek:
    """The KEK from a file (``kek_file``) or from its base64 text (``kek``, i.e. ``TEARLINE_KEK``).

    A file inside the node's data folder is refused: a backup or copy of the data folder must never
    carry the key that opens it.
    """
    if kek_file and kek:
        raise ConfigError("both a key-encryption key file and TEARLINE_KEK are set: set only one")
    if kek:
        return kek_from_text(kek, "TEARLINE_KEK")
    if not kek_file:
        raise ConfigError(
            "the vault needs a key-encryption key: set TEARLINE_KEK_FILE (or TEARLINE_KEK); "
            "`tearline vault init-key --out FILE` makes one"
        )
    path = Path(kek_file).expanduser()
    if _inside(path, data):
        raise ConfigError(
            f"the key-encryption key file `{path}` is inside the data folder `{data}`: keep it elsewhere"
        )
    try:
        text = path.read_text("ascii")
    except FileNotFoundError:
        raise ConfigError(f"no key-encryption key file at `{path}`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the key-encryption key file `{path}`: {type(exc).__name__}") from None
    return kek_from_text(text, f"`{path}`")


def write_kek_file(path: Path, *, data: Path | None = None) -> Kek:
    """Make a new KEK and write it (base64, mode 0600) to a file that must not exist yet."""
    if data is not None and _inside(path, data):
        raise ConfigError(f"`{path}` is inside the data folder `{data}`: keep the key elsewhere")
    kek = Kek(new_key())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"`{path}` already exists: refusing to overwrite a key") from None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(base64.b64encode(kek.key).decode("ascii") + "\n")
    return kek


# -- data keys ------------------------------------------------------------------------------------
def wrap_data_key(kek: Kek, number: int, data_key: bytes) -> bytes:
    """The wrap of data key ``number`` under ``kek`` (stored in ``vault_keys.wrapped``)."""
    if len(data_key) != KEY_BYTES:
        raise ValueError("a data key must be 32 bytes")
    head = _NUMBER.pack(number)
    nonce = secrets.token_bytes(NONCE_BYTES)
    return head + nonce + AESGCM(kek.key).encrypt(nonce, data_key, _WRAP_AD + head)


def wrapped_key_number(wrapped: bytes) -> int:
    """The data key number a wrap carries (readable without any key)."""
    if len(wrapped) < _NUMBER.size:
        raise IntegrityError("a wrapped vault data key is truncated")
    return int(_NUMBER.unpack_from(wrapped)[0])


def unwrap_data_key(kek: Kek, wrapped: bytes) -> tuple[int, bytes]:
    """(number, data key) from a wrap; ``IntegrityError`` if ``kek`` does not open it."""
    head, nonce, body = wrapped[:4], wrapped[4 : 4 + NONCE_BYTES], wrapped[4 + NONCE_BYTES :]
    if len(head) != 4 or len(nonce) != NONCE_BYTES or len(body) != KEY_BYTES + 16:
        raise IntegrityError("a wrapped vault data key is truncated")
    try:
        key = AESGCM(kek.key).decrypt(nonce, body, _WRAP_AD + head)
    except InvalidTag:
        raise IntegrityError(
            f"the key-encryption key `{kek.kek_id}` does not open a vault data key wrapped for it: "
            "the key or the stored wrap is wrong"
        ) from None
    return wrapped_key_number(wrapped), key


# -- values ---------------------------------------------------------------------------------------
def _value_ad(record_id: str, field_name: str) -> bytes:
    return _VALUE_AD + record_id.encode("utf-8") + b"\x00" + field_name.encode("utf-8")


def seal_value(data_key: bytes, record_id: str, field_name: str, value: str) -> bytes:
    """``nonce || ciphertext || tag`` of ``value``, bound to ``record_id`` and ``field_name``."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(data_key).encrypt(nonce, value.encode("utf-8"), _value_ad(record_id, field_name))


def open_value(data_key: bytes, record_id: str, field_name: str, sealed: bytes) -> str:
    """The value sealed by :func:`seal_value`; ``IntegrityError`` if key, record or field differ."""
    nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    if len(nonce) != NONCE_BYTES or len(body) < 16:
        raise IntegrityError(f"a sealed vault value of `{record_id}` is truncated")
    try:
        plain = AESGCM(data_key).decrypt(nonce, body, _value_ad(record_id, field_name))
    except InvalidTag:
        raise IntegrityError(
            f"a sealed vault value of `{record_id}` ({field_name}) fails its integrity check: "
            "wrong key, or the value was altered or moved"
        ) from None
    return plain.decode("utf-8")
