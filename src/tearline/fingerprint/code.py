"""The collusion-resistant code: a binary Tardos code with symmetric scoring, keyed, unbounded.

Written here because no maintained Python library implements Tardos fingerprinting codes; the
construction is short and follows the literature:

* G. Tardos, *Optimal probabilistic fingerprint codes*, STOC 2003 (the bias distribution);
* B. Škorić, S. Katzenbeisser, M. Celik, *Symmetric Tardos fingerprinting codes for arbitrary
  alphabet sizes*, 2008 (the symmetric score, mean 0 and variance 1 for an innocent user).

Every *position* (one embedded choice in one object, named by a byte string, see
:mod:`tearline.fingerprint.embed`) has a bias ``p`` drawn from the arcsine density on
``[t, 1 - t]`` (``t`` = :data:`CUTOFF`); each partner's symbol there is 1 with probability ``p``.
Both are keyed BLAKE2b outputs (a PRF) of the node's fingerprint key, the position and the partner,
so the code needs no storage, has no length limit, and gives a partner the same symbol every time.
Prose positions use the narrower ``[0.3, 0.7]`` (:data:`PROSE_CUTOFF`): a text leak carries few
symbols, and biases near one half make each of them count most against a single leaker, at some
cost against coalitions mixing prose (the object rows of bench/trace.py measure coalitions).

Accusing: a partner's score is the sum over the leak's positions of ``g(y, x, p)``. An innocent
partner's symbols are independent of the leak (they come from a PRF the leakers do not know), so
its score is a sum of independent terms with known distributions whatever the leakers did. The
false-accusation bound :func:`tail_bound` is the Chernoff bound on that sum, minimised over its
parameter, using the actual biases of the positions seen: a rigorous bound, not a normal
approximation. The cutoff ``t = 0.1`` was chosen by simulation on 25 to 400 symbols with single
leakers and coalitions of 2 and 3 (a lower cutoff helps larger coalitions and costs short leaks).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np

__all__ = ["CUTOFF", "Code", "score_terms", "tail_bound", "threshold"]

CUTOFF = 0.1
PROSE_CUTOFF = 0.3  # prose positions (named b"P..."): fewer per leak, so each must say more
_LAMBDAS = np.geomspace(1e-3, 8.0, 96)
_SCALE = float(2**64)


class Code:
    """The keyed code of one node: biases per position, symbols per (partner, position)."""

    def __init__(self, key: bytes, *, cutoff: float = CUTOFF) -> None:
        if len(key) < 16:
            raise ValueError("the fingerprint key must be at least 16 bytes")
        self._key = hashlib.blake2b(key, digest_size=32, person=b"tearline-fp-key").digest()
        lo = math.asin(math.sqrt(cutoff))
        self._lo, self._span = lo, math.pi / 2 - 2 * lo
        plo = math.asin(math.sqrt(PROSE_CUTOFF))
        self._plo, self._pspan = plo, math.pi / 2 - 2 * plo
        self._bias: dict[bytes, float] = {}

    def _u(self, *parts: bytes) -> float:
        h = hashlib.blake2b(b"\x1f".join(parts), digest_size=8, key=self._key).digest()
        return int.from_bytes(h, "big") / _SCALE

    def bias(self, position: bytes) -> float:
        p = self._bias.get(position)
        if p is None:
            lo, span = (self._plo, self._pspan) if position[:1] == b"P" else (self._lo, self._span)
            p = math.sin(lo + span * self._u(b"bias", position)) ** 2
            if len(self._bias) < 1 << 20:
                self._bias[position] = p
        return p

    def symbol(self, partner: str, position: bytes) -> int:
        return 1 if self._u(b"sym", partner.encode(), position) < self.bias(position) else 0

    def order_key(self, *parts: bytes) -> bytes:
        """A keyed sort key (the neutral order of a list is secret, so no copy shows it)."""
        return hashlib.blake2b(b"\x1f".join(parts), digest_size=8, key=self._key, person=b"order").digest()


def score_terms(ys: Sequence[int], xs: Sequence[int], ps: Sequence[float]) -> float:
    """The symmetric Tardos score of the symbols ``xs`` against the leak's ``ys``."""
    y, x, p = np.asarray(ys), np.asarray(xs), np.asarray(ps, dtype=float)
    a, b = np.sqrt((1 - p) / p), np.sqrt(p / (1 - p))
    g = np.where(y == 1, np.where(x == 1, a, -b), np.where(x == 0, b, -a))
    return float(g.sum())


def _log_bound(y: np.ndarray, p: np.ndarray, z: float) -> float:
    if len(p) == 0:
        return 0.0
    a, b = np.sqrt((1 - p) / p), np.sqrt(p / (1 - p))
    q = np.where(y == 1, p, 1 - p)  # chance an innocent's symbol agrees with the leak
    up, down = np.where(y == 1, a, b), np.where(y == 1, b, a)
    lam = _LAMBDAS[:, None]
    # log E[exp(lam * g)] per position, stably: log(q e^{lam up} + (1-q) e^{-lam down})
    t1, t2 = np.log(q) + lam * up, np.log1p(-q) - lam * down
    logs = np.logaddexp(t1, t2).sum(axis=1) - _LAMBDAS * z
    return float(min(0.0, logs.min()))


def tail_bound(ys: Sequence[int], ps: Sequence[float], z: float) -> float:
    """An upper bound on the chance that an innocent partner scores ``z`` or more on this leak."""
    return math.exp(_log_bound(np.asarray(ys), np.asarray(ps, dtype=float), z))


def threshold(ys: Sequence[int], ps: Sequence[float], eps: float) -> float:
    """The lowest score whose :func:`tail_bound` is at most ``eps`` (inf when no score can be)."""
    y, p = np.asarray(ys), np.asarray(ps, dtype=float)
    a, b = np.sqrt((1 - p) / p), np.sqrt(p / (1 - p))
    top = float(np.where(y == 1, a, b).sum())  # the highest score possible
    if top <= 0 or _log_bound(y, p, top) > math.log(eps):
        return math.inf
    lo, hi = 0.0, top
    for _ in range(40):
        mid = (lo + hi) / 2
        if _log_bound(y, p, mid) <= math.log(eps):
            hi = mid
        else:
            lo = mid
    return hi
