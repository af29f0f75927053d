"""Who is asking: HTTP Basic (partner code, token) or ``Authorization: Bearer <token>``.

Tokens are stored as SHA-256 hex (``partners.token_hash``); the presented token is hashed and
compared with :func:`hmac.compare_digest`. A bearer token is compared with every partner's hash
(no early exit), a Basic one with its partner's hash (or a dummy for an unknown code), so timing
says nothing about which codes exist. The hash table is re-read from the database at most every
``refresh_s`` seconds (token rotation and new partners apply within that time on every worker).
Failed attempts are limited per client address by a small token bucket; an empty bucket answers
429 before credentials are even checked.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from tearline.errors import TaxiiError
from tearline.services.trust import hash_token

CHALLENGE = {"WWW-Authenticate": 'Basic realm="tearline"'}
_DUMMY = "0" * 64


class FailureLimiter:
    """Per-address token bucket over failed attempts: ``burst`` failures, then one per ``per_s``."""

    def __init__(self, burst: int = 20, per_s: float = 1.0, max_clients: int = 10_000) -> None:
        self.burst = float(burst)
        self.rate = 1.0 / per_s
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _level(self, client: str, now: float) -> float:
        tokens, at = self._buckets.get(client, (self.burst, now))
        return min(self.burst, tokens + (now - at) * self.rate)

    def blocked(self, client: str) -> bool:
        with self._lock:
            return self._level(client, time.monotonic()) < 1.0

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            level = self._level(client, now)
            self._buckets[client] = (max(0.0, level - 1.0), now)
            self._buckets.move_to_end(client)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)


class Authenticator:
    def __init__(
        self,
        load_hashes: Callable[[], dict[str, str]],
        *,
        limiter: FailureLimiter | None = None,
        refresh_s: float = 2.0,
    ) -> None:
        self._load = load_hashes
        self.limiter = limiter or FailureLimiter()
        self.refresh_s = refresh_s
        self._hashes: dict[str, str] = {}
        self._loaded_at = -1e9
        self._lock = threading.Lock()

    @property
    def fresh(self) -> bool:
        """Whether checking a token now needs no database read."""
        return time.monotonic() - self._loaded_at <= self.refresh_s

    def _table(self) -> dict[str, str]:
        with self._lock:
            if time.monotonic() - self._loaded_at > self.refresh_s:
                self._hashes = dict(self._load())
                self._loaded_at = time.monotonic()
            return self._hashes

    def partner(self, authorization: str | None, client: str) -> str:
        """The partner code the request is made by; raises a 401 or 429 :class:`TaxiiError`."""
        if self.limiter.blocked(client):
            raise TaxiiError(429, "too many failed attempts; wait and try again", headers={"Retry-After": "1"})
        if not authorization:
            raise TaxiiError(401, "credentials are required", headers=CHALLENGE)
        found = self._check(authorization)
        if found is None:
            self.limiter.failed(client)
            raise TaxiiError(401, "the credentials were not accepted", headers=CHALLENGE)
        return found

    def _check(self, authorization: str) -> str | None:
        scheme, _, value = authorization.strip().partition(" ")
        scheme, value = scheme.lower(), value.strip()
        table = self._table()
        if scheme == "bearer" and value:
            presented = hash_token(value)
            found = None
            for code, stored in table.items():
                if hmac.compare_digest(presented, stored):
                    found = code
            return found
        if scheme == "basic" and value:
            try:
                user, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            if not sep:
                return None
            code = user.strip().upper()
            stored = table.get(code, _DUMMY)
            ok = hmac.compare_digest(hash_token(password), stored)
            return code if ok and code in table else None
        return None
