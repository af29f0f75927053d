"""The stateless ``next`` cursor (TAXII 2.1 §3.4): an opaque, signed page position.

A cursor is ``base64url(sealed) "." base64url(tag)``. The payload is the compact JSON array
``[1, partner, scope, filter_digest, date_added_us, seq]``; ``sealed`` is a 12-byte nonce and the
payload encrypted with AES-256-GCM, and the tag is the first 16 bytes of HMAC-SHA256 over
``sealed``; the keys are derived from the node's cursor key. The nonce is synthetic (the first 12
bytes of an HMAC of the payload under its own key, as in SIV modes), not random: the same position
of the same crawl always gets the same cursor, so a page URL repeats across crawls and a cached
answer can be reused. Two different payloads get the same nonce only with the probability two
random nonces would; what a partner learns is only that two cursors are equal, which it can see.
The payload is encrypted, not just signed, because a ``seq`` is a node-wide counter: gaps between
the numbers a partner saw would tell it how many versions it is not shown. ``scope`` names the endpoint and
collection (and object id for a version list); ``filter_digest`` is a hash of the request's
filters. Nothing is kept in server memory, so a cursor works on any worker process and after a
restart; a cursor that is tampered with, made under another key, or replayed by another partner,
on another endpoint or with other filters is refused (400).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tearline.errors import BadCursor
from tearline.store.pages import Position

VERSION = 1
_TAG_BYTES = 16
MAX_LENGTH = 1024


__all__ = ["BadCursor", "CursorCodec", "digest"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def digest(*parts: object) -> str:
    """A short stable digest of a request's filters."""
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]


class CursorCodec:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("cursor key too short")
        self._mac = hmac.new(key, b"tearline cursor mac v1", hashlib.sha256).digest()
        self._aead = AESGCM(hmac.new(key, b"tearline cursor enc v1", hashlib.sha256).digest())
        self._siv = hmac.new(key, b"tearline cursor nonce v1", hashlib.sha256).digest()

    def _tag(self, sealed: bytes) -> bytes:
        return hmac.new(self._mac, sealed, hashlib.sha256).digest()[:_TAG_BYTES]

    def encode(self, partner: str, scope: str, filters: str, position: Position) -> str:
        payload = orjson.dumps([VERSION, partner, scope, filters, int(position[0]), int(position[1])])
        nonce = hmac.new(self._siv, payload, hashlib.sha256).digest()[:12]
        sealed = nonce + self._aead.encrypt(nonce, payload, b"cursor")
        return f"{_b64(sealed)}.{_b64(self._tag(sealed))}"

    def decode(self, token: str, partner: str, scope: str, filters: str) -> Position:
        if not token or len(token) > MAX_LENGTH or token.count(".") != 1:
            raise BadCursor("malformed")
        body, tag = token.split(".")
        try:
            sealed, given = _unb64(body), _unb64(tag)
        except (ValueError, TypeError):
            raise BadCursor("malformed") from None
        if len(sealed) < 29 or not hmac.compare_digest(self._tag(sealed), given):
            raise BadCursor("bad signature")
        try:
            payload = self._aead.decrypt(sealed[:12], sealed[12:], b"cursor")
            version, who, where, what, added, seq = orjson.loads(payload)
        except (InvalidTag, orjson.JSONDecodeError, ValueError, TypeError):
            raise BadCursor("malformed") from None
        if version != VERSION or who != partner or where != scope or what != filters:
            raise BadCursor("foreign")
        if not isinstance(added, int) or not isinstance(seq, int):
            raise BadCursor("malformed")
        return (added, seq)
