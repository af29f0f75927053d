"""SQLite WAL checkpoints run off the write path, keep the log bounded, and never fail a write."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from tearline.store.engine import Database
from tearline.store.wal import HARD_PAGES, SOFT_PAGES, Checkpointer


def _fill(db: Database, transactions: int, kib: int) -> None:
    with db.write() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, body BLOB)"))
    for _ in range(transactions):
        with db.write() as conn:
            conn.execute(text("INSERT INTO blobs (body) VALUES (:b)"), [{"b": os.urandom(1024)} for _ in range(kib)])


def _wait(predicate, seconds: float = 30) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_commits_leave_checkpoints_to_a_thread_and_the_log_stays_bounded(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    db = Database(f"sqlite:///{path}")
    cp = db.checkpointer
    assert cp is not None
    with db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0  # commits never checkpoint
    _fill(db, 40, 512)  # 20 MB through the log, past the soft limit many times
    assert _wait(lambda: cp.done >= 1)
    assert any(t.name == "tearline-wal-checkpoint" for t in threading.enumerate())
    # a writer that finds the log wholly checkpointed restarts it, truncated
    assert _wait(lambda: (_fill(db, 1, 1), os.stat(cp.wal).st_size < cp.soft)[1])
    db.dispose()
    assert not any(t.name == "tearline-wal-checkpoint" and t.is_alive() for t in threading.enumerate())
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM blobs").fetchone()[0] >= 1 + 40 * 512
    conn.close()


def test_a_log_past_the_hard_limit_is_checkpointed_by_the_writer(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 't.db'}")
    cp = db.checkpointer
    assert cp is not None
    cp.close()  # no thread: only the writer's own checkpoint can bound the log
    _fill(db, 1, (HARD_PAGES * 4096) // 1024 + 256)
    assert cp.done == 1
    _fill(db, 1, 1)
    assert os.stat(cp.wal).st_size < cp.soft
    db.dispose()


def test_a_failing_checkpoint_is_logged_and_loses_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "dir.db").mkdir()  # not a database file: every checkpoint fails
    (tmp_path / "dir.db-wal").write_bytes(b"\0" * (SOFT_PAGES * 4096))
    cp = Checkpointer(str(tmp_path / "dir.db"))
    with caplog.at_level(logging.WARNING, logger="tearline.store.wal"):
        cp.committed(None)
        assert _wait(lambda: "WAL checkpoint" in caplog.text)
    cp.committed(None)  # the thread is still there for the next one
    cp.close()
    assert cp.done == 0
