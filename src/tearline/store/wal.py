"""SQLite WAL checkpoints off the write path.

In WAL mode with ``synchronous=NORMAL`` a commit appends to the write-ahead log and does not wait for
the disk; what waits for it is the checkpoint (copying the log into the database file, with two
``fsync``). SQLite's automatic checkpoint runs it inside the commit that crosses 1,000 pages, so
now and then one writer (an ingest unit, a TAXII post, a ledger append) pays for everyone's disk
flush. SQLite's documentation suggests the alternative used here (https://sqlite.org/wal.html,
"Automatic Checkpoint"): connections are opened with ``wal_autocheckpoint=0`` and a thread of this
process runs ``PASSIVE`` checkpoints on a connection of its own when a commit finds the log past
:data:`SOFT_PAGES`. A passive checkpoint never blocks readers or writers, and the interpreter lock
is released while SQLite copies and flushes, so writers go on meanwhile.

The log stays bounded: ``journal_size_limit`` truncates it when it restarts (to a quarter of the
soft limit, so its size tells how much was written since), and a commit that
finds it past :data:`HARD_PAGES` (the thread has fallen behind) checkpoints in the foreground, as
SQLite would have. A failed checkpoint is logged and tried again at the next commit; it loses
nothing (the log is the durable copy). Every process that writes has its own thread; they take
turns through SQLite's checkpoint lock.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from typing import Any

log = logging.getLogger(__name__)

SOFT_PAGES = 1000  # SQLite's own automatic checkpoint threshold
HARD_PAGES = 16 * SOFT_PAGES
_BUSY_MS = 5000


class Checkpointer:
    """Checkpoints one SQLite database file in a background thread, when asked and needed."""

    def __init__(self, path: str, *, page_size: int = 4096) -> None:
        self.path = path
        self.wal = path + "-wal"
        self.soft = SOFT_PAGES * page_size
        self.hard = HARD_PAGES * page_size
        self.done = 0  # checkpoints run (for tests and diagnostics)
        self._wake = threading.Event()
        self._stop = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def connection_pragmas(self) -> list[str]:
        """What every connection to the database runs on opening."""
        return ["PRAGMA wal_autocheckpoint=0", f"PRAGMA journal_size_limit={self.soft // 4}"]

    def committed(self, dbapi_conn: Any) -> None:
        """After a commit: wake the thread past the soft limit; past the hard one, checkpoint here."""
        try:
            size = os.stat(self.wal).st_size
        except OSError:
            return
        if size >= self.hard:
            _checkpoint(dbapi_conn)
            self.done += 1
        elif size >= self.soft:
            self._start()
            self._wake.set()

    def close(self) -> None:
        with self._lock:
            self._stop = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(30)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stop:
                self._thread = threading.Thread(target=self._run, name="tearline-wal-checkpoint", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stop:
                    return
                try:
                    if conn is None:
                        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                        conn.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
                    _checkpoint(conn)
                    self.done += 1
                except sqlite3.Error as exc:  # tried again at the next commit; the log keeps everything
                    log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
        finally:
            if conn is not None:
                conn.close()


def _checkpoint(conn: Any) -> None:
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
