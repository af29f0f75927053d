"""Domain-separated hashes of the ledger, exactly as RFC 9162 §2.1.1.

A leaf hash is ``SHA-256(0x00 || leaf)`` and an interior node hash ``SHA-256(0x01 || left ||
right)``; the distinct prefixes make a leaf impossible to pass off as an interior node (second
pre-image). The standalone verifier (:mod:`tearline.ledger.verify`) carries its own copy of these
two lines, so it can be copied alone; a test holds the two equal.
"""

from __future__ import annotations

from hashlib import sha256

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
EMPTY_ROOT = sha256(b"").digest()  # MTH({}) of the empty tree (RFC 9162 §2.1.1)


def hash_leaf(leaf: bytes) -> bytes:
    """``SHA-256(0x00 || leaf)``."""
    return sha256(LEAF_PREFIX + leaf).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return sha256(NODE_PREFIX + left + right).digest()
