"""Several processes releasing to partners on one PostgreSQL database write one consistent log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, func, select
from tests.helpers import cli_proc

from tearline.store.schema import ledger_leaves, releases


def test_two_processes_append_to_one_consistent_log(tmp_path: Path, pg_url: str) -> None:
    data = tmp_path / "node"
    env = {"TEARLINE_DB_URL": pg_url, "TEARLINE_DATA": str(data)}
    assert cli_proc("init", env=env).code == 0
    for code in ("USA", "CAN", "AUS", "NZL"):
        assert cli_proc("partner", "add", code, "--name", code, "--clearance", "SECRET", "--tlp-ceiling", "AMBER",
                        env=env).code == 0
    bundle = tmp_path / "b.jsonl"
    import orjson

    with bundle.open("wb") as f:
        for i in range(1500):
            f.write(orjson.dumps({
                "type": "indicator", "spec_version": "2.1", "id": f"indicator--00000000-0000-4000-8000-{i:012d}",
                "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
                "pattern": f"[ipv4-addr:value = '203.0.113.{i % 256}']", "pattern_type": "stix",
                "valid_from": "2024-01-01T00:00:00.000Z",
            }) + b"\n")
    assert cli_proc("ingest", str(bundle), "--label", "UNCLASSIFIED//TLP:GREEN", env=env).code == 0
    import os

    procs = [
        subprocess.Popen([sys.executable, "-m", "tearline", "export", code, "--out", str(tmp_path / f"{code}.json")],
                         env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for code in ("USA", "CAN", "AUS", "NZL")
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()

    engine = create_engine(pg_url)
    with engine.connect() as conn:
        seqs = [s for (s,) in conn.execute(select(ledger_leaves.c.seq).order_by(ledger_leaves.c.seq))]
        n_releases = conn.execute(select(func.count()).select_from(releases)).scalar_one()
        linked = conn.execute(
            select(func.count(func.distinct(releases.c.ledger_seq))).where(releases.c.ledger_seq.is_not(None))
        ).scalar_one()
    engine.dispose()
    assert seqs == list(range(len(seqs)))  # one log: no gaps, no duplicates
    assert n_releases == 4 * 1500 and linked == n_releases  # every release has its own leaf
    verify = cli_proc("audit", "verify", env=env)
    assert verify.code == 0, verify.err
    assert f"{len(seqs)} entries" in verify.out
