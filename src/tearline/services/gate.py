"""The gate stage's term set: kept current with the vault without blocking serving.

The release pipeline calls :meth:`Gate.refresh` once per release call and then :meth:`Gate.scan`
for each outgoing body. ``refresh`` reads the node's change epoch (one primary-key read; every
vault change moves it) and only when it moved asks the vault's term version (count and newest id)
whether protected terms changed. When they did:

* the terms added since the current term set was built are compiled at once into a small
  *delta* set (milliseconds), so a new term is enforced from that moment on;
* the full set is rebuilt in a background thread (seconds at 100,000 terms) and swapped in when
  ready; until then every body is scanned by the old full set *and* the delta.

Removed terms stay enforced until the rebuild finishes (stricter, never looser). Results are
cached per (SHA-256 of the bytes, term-set version), so a page served again costs a dict lookup;
a new term changes the version and so invalidates the cache. The cache is bounded by the bytes it
holds (:data:`CACHE_BYTES`, counting each entry's key, slot and hits as measured with
``tracemalloc``: ~280 bytes for a clean body, ~250 more per hit plus its strings), oldest out
first (a count of 200,000 results, the bound before, could reach ~60 MB per process). Any error
raises, and the pipeline withholds (fail closed).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

from tearline.sanitize.scanner import Hit, TermSet

log = logging.getLogger(__name__)

Terms = Sequence[tuple[str, str]]
CACHE_BYTES = 32 * 1024 * 1024  # ~110,000 clean bodies
ENTRY_BYTES = 300  # per cached result: the digest, the key tuple, the table slot (~280 B measured)
HIT_BYTES = 260  # per hit besides its two strings (the hit, its tuple, the decoded path's parts)


def result_bytes(version: str, hits: Sequence[Hit]) -> int:
    """What one cached result is counted as against :data:`CACHE_BYTES`."""
    return ENTRY_BYTES + len(version) + sum(HIT_BYTES + len(h.term_id) + len(h.field) for h in hits)


class Gate:
    def __init__(
        self,
        terms: Callable[[], Terms],
        version: Callable[[], str],
        *,
        epoch: Callable[[], int] | None = None,
        region: str = "GB",
        background: bool = True,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        self._terms = terms
        self._version = version
        self._epoch = epoch  # a cheap node-wide change counter that every term change moves
        self._seen_epoch: int | None = None
        self._region = region
        self._background = background
        self._lock = threading.RLock()  # reentrant: without ``background`` the rebuild runs inside refresh
        self._full: TermSet | None = None
        self._full_ids: frozenset[str] = frozenset()
        self._delta: TermSet | None = None
        self._seen_version: str | None = None
        self._building: threading.Thread | None = None
        self._cache: OrderedDict[tuple[bytes, str], tuple[Hit, ...]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.cache_bytes = cache_bytes  # the bound
        self._cached_bytes = 0
        self._texts: tuple[str, ...] = ()

    @property
    def version(self) -> str | None:
        return self._seen_version

    def term_texts(self) -> tuple[str, ...]:
        """The protected terms as of the last refresh (for the fingerprint stage, which must never
        change the text of one)."""
        return self._texts

    def refresh(self) -> None:
        """Bring the term set up to the vault's current terms (the delta at once, the rest later).

        With an ``epoch`` probe, the vault's term version (a costlier query) is asked only when the
        node's change epoch moved since the last refresh.
        """
        if self._epoch is not None:
            e = self._epoch()
            if e == self._seen_epoch and self._full is not None:
                return
            self._seen_epoch = e
        v = self._version()
        if v == self._seen_version:
            return
        terms = list(self._terms())
        self._texts = tuple(t for _, t in terms)
        with self._lock:
            if self._full is None:
                self._full = TermSet.build(terms, region=self._region)
                self._full_ids = frozenset(t for t, _ in terms)
                self._delta = None
            else:
                added = [(i, t) for i, t in terms if i not in self._full_ids]
                self._delta = TermSet.build(added, region=self._region) if added else None
                self._start_rebuild(terms, v)
            self._seen_version = v
            with self._cache_lock:
                self._cache.clear()
                self._cached_bytes = 0

    def _start_rebuild(self, terms: list[tuple[str, str]], version: str) -> None:
        def work() -> None:
            try:
                full = TermSet.build(terms, region=self._region)
            except Exception:
                log.exception("term set rebuild failed; the old set and the delta stay in force")
                return
            with self._lock:
                if self._seen_version == version:
                    self._full, self._full_ids, self._delta = full, frozenset(t for t, _ in terms), None

        if self._background:
            self._building = threading.Thread(target=work, name="tearline-gate-rebuild", daemon=True)
            self._building.start()
        else:
            work()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background rebuild (tests, benchmarks)."""
        if self._building is not None:
            self._building.join(timeout)

    def scan(self, body: bytes) -> list[Hit]:
        """Every protected term in ``body`` (empty: clean). Raises on any error."""
        if self._full is None or self._seen_version is None:
            raise RuntimeError("the gate has no term set yet")
        version = self._seen_version
        key = (hashlib.sha256(body).digest(), version)
        cached = self._cache.get(key)
        if cached is not None:
            return list(cached)
        with self._lock:
            full, delta = self._full, self._delta
        hits = full.scan_json(body)
        if delta is not None:
            hits = hits + delta.scan_json(body)
        self._keep(key, tuple(hits))
        return hits

    def _keep(self, key: tuple[bytes, str], hits: tuple[Hit, ...]) -> None:
        size = result_bytes(key[1], hits)
        if size > self.cache_bytes:
            return
        with self._cache_lock:
            old = self._cache.pop(key, None)
            if old is not None:
                self._cached_bytes -= result_bytes(key[1], old)
            self._cache[key] = hits
            self._cached_bytes += size
            while self._cached_bytes > self.cache_bytes:
                gone_key, gone = self._cache.popitem(last=False)
                self._cached_bytes -= result_bytes(gone_key[1], gone)

    @property
    def cached_bytes(self) -> int:
        """What the kept scan results count for against ``cache_bytes``."""
        return self._cached_bytes

    @property
    def cached_results(self) -> int:
        return len(self._cache)

    def __call__(self, body: bytes) -> list[Hit]:
        return self.scan(body)
