"""Pausing Python's cyclic garbage collector during bulk intake.

Parsing a bundle allocates hundreds of thousands of dicts and lists, and they all stay alive until
the unit is stored. Every 700 allocations the collector looks at the young ones, and with so many
survivors it promotes and rescans them again and again: on the four ATT&CK bundles (7,496 objects)
it spent 60 to 90 ms of a 300 to 400 ms ingest collecting, and found almost nothing, because what a
unit makes holds no reference cycles and is freed by reference counting once the unit is done.

:func:`paused` turns the collector off for the duration and back on when the outermost pause ends
(pauses nest, across threads too), so it changes when cycles are looked for, never what is freed.
A pause covers one unit (a file, a batch of lines), not a loop over many: the collector runs
between units, so the few cycles that do arise (database driver objects, mostly) are freed as an
ingest goes. The caller frees the unit before the pause ends, or the collector's first pass walks
it. With this, ingest of those bundles spends about 10 ms collecting.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_resume = False  # whether the collector was on when the outermost pause began


@contextmanager
def paused() -> Iterator[None]:
    """Run the body with the cyclic collector off (a no-op for the collector if it was off)."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()

