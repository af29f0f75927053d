"""Giving a serving process's free heap memory back to the system (glibc only).

A worker keeps answers (:class:`tearline.web.taxii.serving.ReleaseCache`,
:class:`tearline.web.taxii.responses.ResponseCache`): tens of thousands of object bodies of a few
KB each, allocated one by one between the short-lived allocations of the requests that made them
(rows read, pipeline intermediates, page envelopes). When those requests end, their memory is free
but lies in holes between kept bodies, so glibc cannot shrink its heap and the process's resident
memory keeps the high-water mark of every burst. On the TAXII soak (``bench/soak.py``, ATT&CK data,
200 clients, two workers) each worker's glibc heap grew from 54 MB to 96 MB between 10 s and 60 s
while the memory actually in use grew by 14 MB: 37 MB of the heap was free (``mallinfo2``), and one
``malloc_trim(0)`` gave 19 MB of it back.

So a worker does two things while it serves:

* the mmap threshold is fixed (``mallopt(M_MMAP_THRESHOLD, ...)``). glibc otherwise raises it
  after every large block freed, up to 32 MB, and from then on puts large blocks (page envelopes
  of 100-300 KB) in the heap too, where they leave the largest holes; above the fixed threshold a
  block is mapped on its own and unmapped when freed;
* a daemon thread calls ``malloc_trim(0)`` every ``every_s`` seconds, which hands every whole free
  page inside the heap back to the system (``MADV_DONTNEED``), not only the top of it.

Measured on the soak: growth from 10 s to 60 s fell from +17.6-18.7% to about +12% of the server's
memory, and what remains is the kept answers filling. A trim takes well under a millisecond
typically and up to ~25 ms on this busy 2-core machine (it walks each arena under that arena's
lock, so an allocation in another thread may wait that long once per period).
Elsewhere (musl, macOS, Windows) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import threading
from typing import Any

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc <malloc.h>
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, kept instead of letting it rise
TRIM_EVERY_S = 5.0


def _glibc() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    return libc


class HeapTrimmer:
    """Fix the mmap threshold and trim the heap every ``every_s`` seconds in a daemon thread."""

    def __init__(self, every_s: float = TRIM_EVERY_S, *, mmap_threshold: int = MMAP_THRESHOLD) -> None:
        if every_s <= 0:
            raise ValueError("the trim period must be positive")
        self.every_s = every_s
        self.mmap_threshold = mmap_threshold
        self.trims = 0  # trims done so far
        self._libc = _glibc()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def available(self) -> bool:
        """Whether this process's allocator can be trimmed (glibc)."""
        return self._libc is not None

    def trim(self) -> bool:
        """One trim now; True when memory was given back."""
        if self._libc is None:
            return False
        self.trims += 1
        return bool(self._libc.malloc_trim(0))

    def start(self) -> None:
        if self._libc is None or self._thread is not None:
            return
        if not self._libc.mallopt(M_MMAP_THRESHOLD, self.mmap_threshold):
            log.warning("could not fix the mmap threshold; trimming only")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tearline-heap-trim", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.trim()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=10)
