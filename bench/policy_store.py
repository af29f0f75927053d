"""Store end-to-end for the policy benchmark: from `partner scale-back` to new decisions in force.

Fills a fresh node (SQLite, and PostgreSQL when a URL is given) with N synthetic object versions
and 10 partners, loads the label columns once (as a serving process does at start), then times
the scale-back as the CLI runs it: a new profile version, the partner's decisions recomputed over
every version and persisted, and the next serving read (`Decisions.view`) answering from them.
Called by bench/policy.py; runnable alone: python bench/policy_store.py [--rows N] [--pg URL]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from tearline.bootstrap import create_node
from tearline.canonical import to_micros
from tearline.services.trust import ProfileChange
from tearline.settings import Settings
from tearline.store import nodes
from tearline.store.schema import objects

PARTNERS = ["USA", "CAN", "AUS", "NZL", "FRA", "DEU", "NLD", "JPN", "NATO", "EST"]
TOPICS = ["russia", "china", "iran", "dprk", "ransomware", "finance", "health", "energy", "elections", "space"]
COLS = [c.name for c in objects.columns if c.name != "seq"]


def _rows(n: int, collection: str, seed: int = 5):  # type: ignore[no-untyped-def]
    rnd = random.Random(seed)
    t0 = to_micros(datetime(2024, 1, 1, tzinfo=UTC))
    for i in range(n):
        cls = rnd.choices([0, 1, 2, 3, 4], [50, 25, 15, 9, 1])[0]
        tlp = rnd.choices([0, 1, 2, 3, 4], [10, 45, 35, 7, 3])[0]
        rel = ",".join(sorted(rnd.sample(PARTNERS[:5], rnd.randint(1, 4)))) if rnd.random() < 0.05 else ""
        topics = ",".join(sorted(rnd.sample(TOPICS, rnd.randint(1, 2))))
        sid = f"indicator--{uuid.UUID(int=rnd.getrandbits(128), version=4)}"
        body = b'{"id":"' + sid.encode() + b'"}'
        yield {
            "collection_id": collection, "stix_id": sid, "type": "indicator", "version": "2024-01-01T00:00:00.000Z",
            "version_us": t0, "spec_version": "2.1", "date_added_us": t0 + i * 1000, "body": body,
            "sha256": "0" * 64, "label": "UNCLASSIFIED", "classification": cls, "tlp": tlp,
            "noforn": rnd.random() < 0.01, "orcon": rnd.random() < 0.01, "rel_to": rel, "topics": topics,
            "source_refs": "", "originator": None, "further_sharing": None, "portions": None, "posted_by": None,
        }


def _fill(node, n: int) -> float:  # type: ignore[no-untyped-def]
    with node.db.read() as conn:
        shared = nodes.find_collection(conn, "shared")
    t = time.perf_counter()
    batch: list[tuple[object, ...]] = []
    is_pg = node.db.dialect == "postgresql"

    def flush() -> None:
        with node.db.write() as conn:
            if is_pg:
                raw = conn.connection.driver_connection
                with raw.cursor() as cur, cur.copy(f"COPY objects ({', '.join(COLS)}) FROM STDIN") as cp:
                    for row in batch:
                        cp.write_row(row)
            else:
                conn.exec_driver_sql(
                    f"INSERT INTO objects ({', '.join(COLS)}) VALUES ({', '.join('?' * len(COLS))})", batch
                )

    for r in _rows(n, shared.id):
        batch.append(tuple(r[c] for c in COLS))
        if len(batch) >= 50_000:
            flush()
            batch = []
    if batch:
        flush()
    return time.perf_counter() - t


def measure(db: str, rows: int, label: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        node, _ = create_node(Settings(data=Path(tmp) / "node", db=db), code="GBR")
        for code in PARTNERS:
            node.trust.add_partner(code, code, ProfileChange(clearance="SECRET", tlp_ceiling="AMBER"),
                                   effective_from=datetime(2023, 1, 1, tzinfo=UTC))
        fill = _fill(node, rows)
        t = time.perf_counter()
        node.decisions.columns()
        load = time.perf_counter() - t
        t = time.perf_counter()
        with node.db.write() as conn:
            node.decisions.recompute_all(conn)
        full = time.perf_counter() - t
        times = []
        for i, topic in enumerate(TOPICS[:5]):
            t = time.perf_counter()
            node.trust.change("USA", ProfileChange(exclude_topics=(topic,)), reason="bench", approved_by="bench",
                              narrowing_only=True)
            view = node.decisions.view("USA")
            times.append(time.perf_counter() - t)
            assert view.profile.version == i + 2
        node.close()
    print(f"store end-to-end on {label}: {rows:,} versions (filled in {fill:.1f} s, columns loaded in {load:.1f} s); "
          f"all 10 partners recomputed and persisted in {full * 1e3:.0f} ms")
    print(f"  scale-back -> decisions in force for serving: median {statistics.median(times) * 1e3:.0f} ms, "
          f"max {max(times) * 1e3:.0f} ms over {len(times)} scale-backs (goal <= 1 s)")


def pg_schema_url(base: str) -> tuple[str, object]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}", drop


def run(rows: int, pg: str) -> None:
    measure("", rows, "SQLite")
    if pg:
        url, drop = pg_schema_url(pg)
        try:
            measure(url, rows, "PostgreSQL")
        finally:
            drop()  # type: ignore[operator]
    else:
        print("store end-to-end on PostgreSQL: skipped (no --pg / TEARLINE_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pg", default=os.environ.get("TEARLINE_TEST_POSTGRES_URL", ""))
    a = ap.parse_args()
    sys.exit(run(a.rows, a.pg))
