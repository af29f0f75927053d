"""Node keys on disk: the ledger's Ed25519 signing key, the secret that signs TAXII cursors and the
fingerprint key (the per-recipient fingerprint code, :mod:`tearline.fingerprint.code`).

Files are written with mode 0600 inside ``<data>/keys``. The vault's key-encryption key is *not*
kept here (see :mod:`tearline.crypto.sealing`): it must never sit beside the data it protects.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tearline.errors import ConfigError

SIGNING_KEY = "ledger-ed25519.pem"
CURSOR_KEY = "cursor.key"
SESSION_KEY_FILE = "ui-session.key"
FINGERPRINT_KEY = "fingerprint.key"


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def create_keys(keys_dir: Path) -> None:
    """Make the node's keys if they do not exist yet (idempotent)."""
    sk_path = keys_dir / SIGNING_KEY
    if not sk_path.exists():
        sk = Ed25519PrivateKey.generate()
        pem = sk.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write_private(sk_path, pem)
    ck_path = keys_dir / CURSOR_KEY
    if not ck_path.exists():
        _write_private(ck_path, secrets.token_bytes(32))
    fingerprint_key(keys_dir)


def fingerprint_key(keys_dir: Path) -> bytes:
    """The key of the node's fingerprint code (made if missing: nodes made before it existed).

    Losing it loses the means to trace copies already released; a backup of the keys folder keeps it."""
    path = keys_dir / FINGERPRINT_KEY
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process made it first
            _write_private(path, secrets.token_bytes(32))
    data = path.read_bytes()
    if len(data) < 32:
        raise ConfigError(f"the fingerprint key at `{path}` is too short")
    return data


def load_signing_key(keys_dir: Path) -> Ed25519PrivateKey:
    path = keys_dir / SIGNING_KEY
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise ConfigError(f"no signing key at `{path}`: run `tearline init`") from None
    except ValueError:
        raise ConfigError(f"the signing key at `{path}` is not a valid PEM key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"the signing key at `{path}` is not an Ed25519 key")
    return key


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_cursor_key(keys_dir: Path) -> bytes:
    path = keys_dir / CURSOR_KEY
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"no cursor key at `{path}`: run `tearline init`") from None
    if len(data) < 32:
        raise ConfigError(f"the cursor key at `{path}` is too short")
    return data


def session_secret(keys_dir: Path) -> str:
    """The signing key of UI session cookies, from ``keys_dir/ui-session.key`` (made if missing)."""
    path = keys_dir / SESSION_KEY_FILE
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
    secret = path.read_text("ascii").strip()
    if len(secret) < 32:
        raise ConfigError(f"the session key in `{path}` is too short")
    return secret
