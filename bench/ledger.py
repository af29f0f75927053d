"""Ledger benchmark: append throughput and inclusion-proof latency, against pymerkle in the same run.

    python bench/ledger.py [--leaves 1000000] [--batch 10000] [--proofs 1000]

tearline: release leaves (dicts) appended through ``tearline.store.ledger.append_leaves`` into a
fresh SQLite file (WAL, one ``BEGIN IMMEDIATE`` transaction per batch), then inclusion proofs for
random seqs at the final size through ``tearline.store.ledger.inclusion_proof``.
pymerkle: the same leaf bytes into ``SqliteTree`` (one ``append_entries`` per batch) and
``InmemoryTree``, then ``prove_inclusion`` for the same seqs. Leaf building is outside the timings
for both. Goals: >= 50,000 appends/s, a proof in under 1 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from tearline.ledger import leaves as L
from tearline.ledger.proofs import verify_inclusion
from tearline.store import ledger as repo
from tearline.store import schema

MAX_LEAVES = 5_000_000
T0 = datetime(2026, 11, 29, tzinfo=UTC)


def sqlite_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")


    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    schema.metadata.create_all(engine, tables=[schema.ledger_leaves, schema.ledger_nodes, schema.ledger_heads])
    return engine


def batch_leaves(start: int, n: int) -> list[dict[str, Any]]:
    return [
        L.release_leaf(
            time=T0 + timedelta(microseconds=i),
            partner=("USA", "GBR", "CAN", "AUS", "NZL")[i % 5],
            object_id=f"indicator--{i:08d}-0000-4000-8000-000000000000",
            version="2026-11-01T00:00:00.000Z",
            sha256=hashlib.sha256(i.to_bytes(8, "big")).hexdigest(),
            verdict="RELEASE",
            reasons=["OWN_OBJECT"],
        )
        for i in range(start, start + n)
    ]


def summary(rate: float, samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"rate": rate, "p50": statistics.median(ordered), "p99": p99}


def time_proofs(prove: Callable[[int], object], seqs: Sequence[int], budget_s: float) -> list[float]:
    out: list[float] = []
    deadline = time.perf_counter() + budget_s
    for seq in seqs:
        t = time.perf_counter()
        prove(seq)
        out.append(time.perf_counter() - t)
        if time.perf_counter() > deadline:
            break
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--leaves", type=int, default=1_000_000)
    p.add_argument("--batch", type=int, default=10_000)
    p.add_argument("--proofs", type=int, default=1000)
    p.add_argument("--seed", type=int, default=9162)
    args = p.parse_args(argv)
    n = min(max(args.leaves, 1), MAX_LEAVES)
    rng = random.Random(args.seed)
    seqs = [rng.randrange(n) for _ in range(args.proofs)]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        engine = sqlite_engine(Path(tmp) / "tearline.db")
        spent = cpu = 0.0
        all_bytes: list[bytes] = []
        for start in range(0, n, args.batch):
            batch = batch_leaves(start, min(args.batch, n - start))
            t, c = time.perf_counter(), time.process_time()
            with engine.begin() as conn:
                repo.append_leaves(conn, batch)
            spent += time.perf_counter() - t
            cpu += time.process_time() - c
            all_bytes.extend(L.encode(L.sequenced(leaf, start + i)) for i, leaf in enumerate(batch))
        with engine.begin() as conn:
            root = repo.root(conn)
            t_proofs = time_proofs(lambda s: repo.inclusion_proof(conn, s, n), seqs, 60)
            for s in seqs[:20]:
                path = repo.inclusion_proof(conn, s, n)
                verify_inclusion(s, n, hashlib.sha256(b"\x00" + all_bytes[s]).digest(), path, root)
        engine.dispose()
        results["tearline (SQLite)"] = summary(n / spent, t_proofs)
        print(
            f"tearline: {n} leaves in {spent:.2f} s wall, {cpu:.2f} s cpu ({n / cpu:,.0f} appends per cpu-s); "
            f"root {root.hex()[:16]}",
            flush=True,
        )

        from pymerkle import InmemoryTree, SqliteTree

        tree = SqliteTree(str(Path(tmp) / "pymerkle.db"))
        t, c = time.perf_counter(), time.process_time()
        for start in range(0, n, args.batch):
            tree.append_entries(all_bytes[start : start + args.batch])
        spent, cpu = time.perf_counter() - t, time.process_time() - c
        assert tree.get_root() == root, "pymerkle disagrees with tearline on the root"
        samples = time_proofs(lambda s: tree.prove_inclusion(s + 1, n), seqs, 60)
        results["pymerkle SqliteTree"] = summary(n / spent, samples)
        tree.close()
        print(f"pymerkle SqliteTree: {spent:.2f} s wall, {cpu:.2f} s cpu, {len(samples)} proofs", flush=True)

        mem = InmemoryTree()
        t = time.perf_counter()
        for data in all_bytes:
            mem.append_entry(data)
        spent = time.perf_counter() - t
        samples = time_proofs(lambda s: mem.prove_inclusion(s + 1, n), seqs, 60)
        results["pymerkle InmemoryTree"] = summary(n / spent, samples)

    print(f"\n{n} leaves, batches of {args.batch}, {args.proofs} random inclusion proofs at size {n}")
    print(f"{'':24} {'appends/s':>12} {'proof p50 ms':>13} {'proof p99 ms':>13}")
    for name, r in results.items():
        print(f"{name:24} {r['rate']:>12,.0f} {r['p50'] * 1e3:>13.3f} {r['p99'] * 1e3:>13.3f}")
    ours = results["tearline (SQLite)"]
    for name in ("pymerkle SqliteTree", "pymerkle InmemoryTree"):
        r = results[name]
        print(
            f"tearline / {name}: appends x{ours['rate'] / r['rate']:.2f}, "
            f"proof p50 x{r['p50'] / ours['p50']:.2f} faster, p99 x{r['p99'] / ours['p99']:.2f} faster"
        )
    print(f"goals: appends >= 50,000/s: {ours['rate'] >= 50_000}; proof p99 < 1 ms: {ours['p99'] < 1e-3}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
