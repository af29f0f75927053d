"""SIGKILL in the middle of a large ingest leaves only whole committed batches; a rerun completes it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
from tests.helpers import cli_proc

N = 40_000
BATCH = 1000


def _jsonl(path: Path) -> None:
    with path.open("wb") as f:
        for i in range(N):
            obj = {
                "type": "indicator",
                "spec_version": "2.1",
                "id": f"indicator--00000000-0000-4000-8000-{i:012d}",
                "created": "2024-01-01T00:00:00.000Z",
                "modified": "2024-01-01T00:00:00.000Z",
                "name": f"indicator {i}",
                "description": "x" * 200,
                "pattern": f"[ipv4-addr:value = '198.51.100.{i % 256}']",
                "pattern_type": "stix",
                "valid_from": "2024-01-01T00:00:00.000Z",
            }
            f.write(orjson.dumps(obj) + b"\n")


def _count(db: Path) -> int:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return int(conn.execute("select count(*) from objects").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def test_sigkill_mid_ingest_then_rerun(tmp_path: Path) -> None:
    data = tmp_path / "node"
    src = tmp_path / "big.jsonl"
    _jsonl(src)
    assert cli_proc("--data", str(data), "init").code == 0
    db = data / "tearline.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tearline", "--data", str(data), "ingest", str(src)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _count(db) < 3 * BATCH and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "ingest finished before it could be killed; make the input larger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    conn = sqlite3.connect(db)
    assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
    stored = conn.execute("select count(*) from objects").fetchone()[0]
    distinct = conn.execute("select count(distinct stix_id) from objects").fetchone()[0]
    conn.close()
    assert 0 < stored < N
    assert stored % BATCH == 0, f"{stored} rows is not a whole number of batches"
    assert distinct == stored

    rerun = cli_proc("--data", str(data), "ingest", "--json", str(src), timeout=300)
    assert rerun.code == 0, rerun.err
    summary = orjson.loads(rerun.out)
    assert summary["new"] == N - stored
    assert summary["duplicate"] == stored
    stats = orjson.loads(cli_proc("--data", str(data), "stats", "--json").out)
    assert stats["objects"] == N and stats["versions"] == N
