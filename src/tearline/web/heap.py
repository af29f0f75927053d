"""Giving a serving process's free heap memory back to the system (glibc only).

A worker keeps answers (:class:`tearline.services.serving.ReleaseCache`,
:class:`tearline.services.answers.ResponseCache`): tens of thousands of object bodies of a few
KB each, allocated one by one between the short-lived allocations of the requests that made them
(rows read, pipeline intermediates, page envelopes). When those requests end, their memory is free
but lies in holes between kept bodies, so glibc cannot shrink its heap and the process's resident
memory keeps the high-water mark of every burst. On the TAXII soak (``bench/soak.py``, ATT&CK data,
200 clients, two workers) each worker's glibc heap grew from 54 MB to 96 MB between 10 s and 60 s
while the memory actually in use grew by 14 MB: 37 MB of the heap was free (``mallinfo2``), and one
``malloc_trim(0)`` gave 19 MB of it back.

So a served worker runs a daemon thread that calls ``malloc_trim(0)`` every ``every_s`` seconds,
which hands every whole free page inside the heap back to the system (``MADV_DONTNEED``), not only
the top of it. A trim takes well under a millisecond typically and up to ~25 ms on this busy
2-core machine (it walks each arena under that arena's lock, so an allocation in another thread
may wait that long once per period). Elsewhere (musl, macOS, Windows) this is a no-op.

Trimming costs no measurable time: the same fixed work (20 clients crawling the ATT&CK data once
against two workers) took 46.6 s of server CPU with it and 45.8 s without. Not done: fixing the
mmap threshold (``mallopt(M_MMAP_THRESHOLD, 128 KiB)``, which also fixes the trim threshold) kept
the heap a little smaller still, but the same work then took 52.2 s of CPU (+13%: every burst
shrinks the heap and faults it back in).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
from typing import Any

TRIM_EVERY_S = 5.0


def _glibc() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    return libc


class HeapTrimmer:
    """Trim the heap every ``every_s`` seconds in a daemon thread."""

    def __init__(self, every_s: float = TRIM_EVERY_S) -> None:
        if every_s <= 0:
            raise ValueError("the trim period must be positive")
        self.every_s = every_s
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
