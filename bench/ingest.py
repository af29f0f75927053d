"""Ingest throughput: the four ATT&CK bundles into SQLite and PostgreSQL, against the json.loads floor.

Usage: python bench/ingest.py [--data ../shared/data/attack] [--pg URL] [--rounds 3]

The floor is a plain `json.loads` loop over the same files (what every ingest pays at least);
the goal is SQLite ingest at >= 25% of the floor's objects/s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from tearline.bootstrap import create_node  # noqa: E402
from tearline.settings import Settings  # noqa: E402


def floor(files: list[Path]) -> tuple[float, float, int]:
    t, c = time.perf_counter(), time.process_time()
    n = 0
    for f in files:
        n += len(json.loads(f.read_bytes())["objects"])
    return time.perf_counter() - t, time.process_time() - c, n


def ingest(files: list[Path], db: str, data: Path) -> tuple[float, float, int]:
    node, _ = create_node(Settings(data=data, db=db), code="GBR")
    from tearline.services.trust import ProfileChange

    for code in ("USA", "CAN", "AUS", "NZL", "FRA"):
        node.trust.add_partner(code, code, ProfileChange(clearance="SECRET", tlp_ceiling="AMBER"))
    t, c = time.perf_counter(), time.process_time()
    summary = node.intake.ingest_paths([str(f) for f in files], default=node.info.default_label)
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    node.close()
    return elapsed, cpu, summary.new + summary.duplicate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(REPO / ".." / "shared" / "data" / "attack"))
    ap.add_argument("--pg", default=os.environ.get("TEARLINE_TEST_POSTGRES_URL", ""))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    files = sorted(Path(args.data).glob("*.json"))
    if not files:
        sys.exit(f"no bundles in {args.data}")
    floors, sqlites, pgs, floor_cpu, sqlite_cpu = [], [], [], [], []
    n = 0
    for _ in range(args.rounds):
        el, cpu, n = floor(files)
        floors.append(el)
        floor_cpu.append(cpu)
        with tempfile.TemporaryDirectory() as tmp:
            el, cpu, _ = ingest(files, "", Path(tmp) / "node")
            sqlites.append(el)
            sqlite_cpu.append(cpu)
        if args.pg:
            from sqlalchemy import create_engine, text

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.pg)
            with admin.begin() as c:
                c.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    el, _, _ = ingest(files, f"{args.pg}?options=-csearch_path%3D{schema}", Path(tmp) / "node")
                    pgs.append(el)
            finally:
                with admin.begin() as c:
                    c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    f = n / statistics.median(floors)
    s = n / statistics.median(sqlites)
    print(f"objects in the four bundles: {n}  (median of {args.rounds} rounds)")
    print(f"json.loads floor     {f:12,.0f} objects/s")
    print(f"SQLite ingest        {s:12,.0f} objects/s   {s / f:6.1%} of the floor (goal >= 25%)")
    fc, sc = n / min(floor_cpu), n / min(sqlite_cpu)
    print(f"  by CPU time (steadier on a busy machine): floor {fc:,.0f}/s, SQLite {sc:,.0f}/s = {sc / fc:.1%}")
    if pgs:
        p = n / statistics.median(pgs)
        print(f"PostgreSQL ingest    {p:12,.0f} objects/s   {p / f:6.1%} of the floor")
    else:
        print("PostgreSQL ingest    skipped (no --pg / TEARLINE_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
