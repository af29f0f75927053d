"""Signed tree heads: the exact signed bytes, signing, and refusal of any altered field."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tearline.errors import IntegrityError, InvalidInput
from tearline.ledger.checkpoint import SignedHead, check_head, checkpoint_body, sign_head

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
ROOT = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def test_signed_bytes_are_the_documented_lines() -> None:
    assert checkpoint_body("GBR-NCSC", 42, ROOT, 1796033472123456) == (
        b"tearline-ledger-checkpoint/v1\nGBR-NCSC\n42\n"
        b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n1796033472123456\n"
    )


def test_sign_and_check() -> None:
    head = sign_head(KEY, "GBR-NCSC", 42, ROOT, 1)
    check_head(head, KEY.public_key())
    assert SignedHead.from_json(head.to_json()) == head


@pytest.mark.parametrize(
    "change",
    [
        {"origin": "GBR-NCSX"},
        {"size": 43},
        {"root": bytes(32)},
        {"timestamp_us": 2},
        {"signature": bytes(64)},
    ],
)
def test_any_altered_field_fails(change: dict[str, object]) -> None:
    head = dataclasses.replace(sign_head(KEY, "GBR-NCSC", 42, ROOT, 1), **change)  # type: ignore[arg-type]
    with pytest.raises(IntegrityError, match="size"):
        check_head(head, KEY.public_key())


def test_another_key_fails() -> None:
    head = sign_head(KEY, "GBR-NCSC", 42, ROOT, 1)
    with pytest.raises(IntegrityError):
        check_head(head, Ed25519PrivateKey.generate().public_key())


@pytest.mark.parametrize("origin", ["", "has space", "new\nline", "x" * 129, "café"])
def test_bad_origins_are_refused(origin: str) -> None:
    with pytest.raises(InvalidInput, match="origin"):
        sign_head(KEY, origin, 1, ROOT, 1)


def test_bad_root_is_refused() -> None:
    with pytest.raises(InvalidInput):
        sign_head(KEY, "GBR", 1, b"short", 1)
