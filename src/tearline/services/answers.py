"""Whole TAXII answers kept for reuse, and repeat deliveries counted without a write per request.

A GET answer depends only on who asks, what is asked (method, full URL with its query, ``Accept``)
and what the node would release to that partner at that moment. The last is summarised by the
partner's change stamp (:meth:`tearline.services.decisions.Decisions.stamp`): the node-wide change
epoch, read once per request, and the partner's next time-based change (a profile version that
takes effect later, an embargoed version that becomes releasable). So an answer is kept with the
stamp it was made under and served again, byte for byte, only while the epoch is the same and the
clock has not reached that next change. The stamp is read *before* an answer is made, so an answer
is never older than its stamp: a change committed meanwhile moves the epoch and the next request
makes a new answer.

:class:`ResponseCache` is an LRU bounded by the bytes it holds (bodies, headers, keys).

A served-again objects answer is a repeat delivery of bytes whose first delivery the release
pipeline recorded (and put in the ledger) before they first left. Repeats are counted in
``releases.deliveries``; a write per object per request would cost more than serving the answer,
so :class:`DeliveryCounter` adds them up in memory and a background thread writes them every
``interval_s`` seconds in one transaction (and on :meth:`DeliveryCounter.close`, and at process
exit). Counts not yet written when a process is killed are lost; first deliveries never are.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tearline.errors import StorageError
from tearline.services.decisions import Stamp
from tearline.store import pages

if TYPE_CHECKING:
    from tearline.store.engine import Database

log = logging.getLogger(__name__)

Key = tuple[str, str, str, str]  # (partner, method, full URL, Accept)
_OVERHEAD = 256  # bytes counted per entry besides its body, headers and key


@dataclass(frozen=True)
class Cached:
    """One answer as sent: status, raw headers and body, and the releases it delivers."""

    stamp: Stamp
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    release_ids: tuple[int, ...] = ()

    def size(self, key: Key) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + sum(map(len, key)) + _OVERHEAD


class ResponseCache:
    """Answers per (partner, method, URL, Accept), valid while their stamp holds; LRU by bytes."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Key, Cached] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Key, epoch: int, now_us: int) -> Cached | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return None
            if not entry.stamp.holds(epoch, now_us):
                self._bytes -= entry.size(key)
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return entry

    def put(self, key: Key, entry: Cached) -> None:
        size = entry.size(key)
        if size > self.max_bytes // 8:  # one huge answer must not flush everything else
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.size(key)
            self._items[key] = entry
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                gone_key, gone = self._items.popitem(last=False)
                self._bytes -= gone.size(gone_key)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


class DeliveryCounter:
    """Repeat deliveries per release record, written in batches (see the module docstring)."""

    def __init__(self, db: Database, *, interval_s: float = 2.0) -> None:
        self.db = db
        self.interval_s = interval_s
        self._counts: Counter[int] = Counter()
        self._last: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, release_ids: Iterable[int], at_us: int) -> None:
        with self._lock:
            for rid in release_ids:
                self._counts[rid] += 1
                if self._last.get(rid, -1) < at_us:
                    self._last[rid] = at_us
            start = self._thread is None and not self._closed and bool(self._counts)
            if start:
                self._thread = threading.Thread(target=self._run, name="tearline-deliveries", daemon=True)
                atexit.register(self._at_exit)
        if start:
            assert self._thread is not None
            self._thread.start()

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def flush(self) -> int:
        """Write the pending counts in one transaction; returns how many deliveries were written.
        On a storage error the counts stay pending for the next flush."""
        with self._lock:
            counts, last = self._counts, self._last
            self._counts, self._last = Counter(), {}
        if not counts:
            return 0
        try:
            with self.db.write() as conn:
                pages.count_deliveries(conn, dict(counts), last)
        except StorageError:
            with self._lock:
                self._counts.update(counts)
                for rid, at in last.items():
                    self._last[rid] = max(at, self._last.get(rid, at))
            raise
        return sum(counts.values())

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.flush()
            except StorageError:
                log.warning("repeat deliveries not written yet; retrying", exc_info=True)

    def close(self) -> None:
        """Stop the background writer and write what is pending."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._stop.set()
        if thread is not None:
            thread.join(timeout=10)
        self.flush()

    def _at_exit(self) -> None:
        if self._closed:
            return
        try:
            self.close()
        except StorageError:  # the database may be gone at interpreter exit; nothing else to do
            log.warning("repeat deliveries could not be written at exit", exc_info=True)
