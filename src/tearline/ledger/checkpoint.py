"""Signed tree heads (checkpoints): origin, size, root and time, signed with Ed25519.

The signed bytes are fixed text lines, so any implementation can rebuild them without a JSON or
ASN.1 library (the form is documented in docs/ledger.md)::

    tearline-ledger-checkpoint/v1
    <origin>
    <size, decimal>
    <root, 64 lowercase hex digits>
    <timestamp, decimal microseconds since the Unix epoch>

The first line separates these signatures from anything else the node key might sign; the origin
(the node code) binds the head to one log. The byte form and the check live in
:mod:`tearline.ledger.verify`, so the node and its partners share one copy; this module adds signing.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tearline.errors import IntegrityError, InvalidInput
from tearline.ledger.verify import SignedHead, VerificationError, checkpoint_body, verify_head

__all__ = ["SignedHead", "check_head", "checkpoint_body", "sign_head"]


def sign_head(private_key: Ed25519PrivateKey, origin: str, size: int, root: bytes, timestamp_us: int) -> SignedHead:
    """Sign the head of the tree of ``size`` leaves whose root is ``root``."""
    try:
        body = checkpoint_body(origin, size, root, timestamp_us)
    except VerificationError as exc:
        raise InvalidInput(str(exc)) from None
    return SignedHead(origin, size, root, timestamp_us, private_key.sign(body))


def check_head(head: SignedHead, public_key: Ed25519PublicKey) -> None:
    """Raise :class:`IntegrityError` unless ``head`` is well formed and signed by ``public_key``."""
    try:
        verify_head(head, public_key)
    except VerificationError as exc:
        raise IntegrityError(str(exc)) from None
