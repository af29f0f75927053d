"""Two server processes releasing to partners on one PostgreSQL database write one consistent log."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
from sqlalchemy import create_engine, func, select
from tests.helpers import cli_proc

from tearline.store.schema import ledger_leaves, releases

TAXII = "application/taxii+json;version=2.1"
PARTNERS = ("USA", "CAN", "AUS", "NZL")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


def _crawl(base: str, code: str, token: str) -> int:
    seen = 0
    url = f"{base}/api/collections/shared/objects/?limit=100"
    with httpx.Client(headers={"Accept": TAXII, "Authorization": f"Bearer {token}"}, timeout=60) as c:
        while url:
            r = c.get(url)
            assert r.status_code == 200, r.text
            env = r.json()
            seen += len(env.get("objects", []))
            url = f"{base}/api/collections/shared/objects/?limit=100&next={env['next']}" if env.get("more") else ""
    return seen


def test_two_server_processes_append_to_one_consistent_log(tmp_path: Path, pg_url: str) -> None:
    env = {"TEARLINE_DB_URL": pg_url, "TEARLINE_DATA": str(tmp_path / "node")}
    assert cli_proc("init", env=env).code == 0
    tokens = {}
    for code in PARTNERS:
        run = cli_proc("partner", "add", code, "--name", code, "--clearance", "SECRET", "--tlp-ceiling", "AMBER",
                       "--json", env=env)
        tokens[code] = orjson.loads(run.out)["token"]
    bundle = tmp_path / "b.jsonl"
    with bundle.open("wb") as f:
        for i in range(1200):
            f.write(orjson.dumps({
                "type": "indicator", "spec_version": "2.1", "id": f"indicator--00000000-0000-4000-8000-{i:012d}",
                "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
                "pattern": f"[ipv4-addr:value = '203.0.113.{i % 256}']", "pattern_type": "stix",
                "valid_from": "2024-01-01T00:00:00.000Z",
            }) + b"\n")
    assert cli_proc("ingest", str(bundle), "--label", "UNCLASSIFIED//TLP:GREEN", env=env).code == 0
    servers, bases = [], []
    try:
        for _ in range(2):
            port = _port()
            p = subprocess.Popen([sys.executable, "-m", "tearline", "serve", "--port", str(port)],
                                 env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            servers.append(p)
            bases.append(f"http://127.0.0.1:{port}")
            _wait(f"{bases[-1]}/taxii2/", p)
        jobs = [(bases[i % 2], code) for i, code in enumerate(PARTNERS)] + [
            (bases[(i + 1) % 2], code) for i, code in enumerate(PARTNERS)
        ]
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            counts = list(pool.map(lambda j: _crawl(j[0], j[1], tokens[j[1]]), jobs))
        assert all(c == 1200 for c in counts)
    finally:
        for p in servers:
            p.terminate()
            p.wait(timeout=30)

    engine = create_engine(pg_url)
    with engine.connect() as conn:
        seqs = [s for (s,) in conn.execute(select(ledger_leaves.c.seq).order_by(ledger_leaves.c.seq))]
        n_releases = conn.execute(select(func.count()).select_from(releases)).scalar_one()
        linked = conn.execute(
            select(func.count(func.distinct(releases.c.ledger_seq))).where(releases.c.ledger_seq.is_not(None))
        ).scalar_one()
    engine.dispose()
    assert seqs == list(range(len(seqs)))  # one log: no gaps, no duplicates
    # each partner's bytes were recorded once, whichever server delivered them first
    assert n_releases == len(PARTNERS) * 1200 and linked == n_releases
    verify = cli_proc("audit", "verify", env=env)
    assert verify.code == 0, verify.err
    assert f"{len(seqs)} entries" in verify.out
