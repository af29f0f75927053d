"""Benchmark of the release policy: vectorised recomputation, what-if, scalar decide, Cedar baseline.

Plain script, bounded (well under a minute on 2 cores)::

    python bench/policy.py [--rows 1000000] [--sample 3000] [--representations]

Builds ``--rows`` synthetic versions (most unclassified and TLP GREEN/AMBER, a few % REL TO, topics
from 30, some portions, some third-party originators) and 10 partner profiles, then prints:
the full ``rows x 10`` matrix (cold: first run on a snapshot; warm: median of repeats), one partner
after a scale-back, a what-if over all rows, decisions/s of the scalar ``decide`` and of the equivalent
Cedar policy below through ``cedarpy.is_authorized_batch`` (the baseline, measured in the same run),
and the ratios. Goals: matrix <= 50 ms, one partner <= 10 ms, what-if <= 1 s, vectorised >= 10,000x
Cedar.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from tearline.canonical import from_micros, to_micros
from tearline.model.markings import Label, MarkedItem, Portion, Tlp
from tearline.model.partners import TrustProfile
from tearline.policy.columns import ColumnsBuilder, LabelColumns
from tearline.policy.decide import decide
from tearline.policy.vector import compute, compute_matrix
from tearline.policy.whatif import whatif

PARTNERS = ["USA", "GBR", "CAN", "AUS", "NZL", "FRA", "DEU", "NLD", "JPN", "NATO"]
TOPICS = [
    "russia", "china", "iran", "dprk", "ransomware", "phishing", "apt28", "apt29", "lazarus", "turla",
    "sandworm", "fin7", "conti", "lockbit", "emotet", "qakbot", "cobalt-strike", "supply-chain",
    "ics", "energy", "finance", "health", "telecom", "government", "defence", "elections",
    "disinformation", "espionage", "ddos", "zero-day",
]
AT = datetime(2026, 11, 29, tzinfo=UTC)
START = AT - timedelta(days=730)

# The same rules as tearline.policy.decide, in Cedar. Context carries the label and the partner's
# profile; `forbid` is what wins, `permit` grants the default. (Reasons are not reconstructed: Cedar
# returns the ids of the deciding policies, not parametrised codes.)
CEDAR_POLICY = """
permit(principal, action == Action::"receive", resource);
forbid(principal, action, resource) when { context.suspended && context.originator != context.partner };
forbid(principal, action, resource) when {
  context.classification > context.clearance && context.originator != context.partner };
forbid(principal, action, resource) when { context.tlp > context.tlp_ceiling && context.originator != context.partner };
forbid(principal, action, resource) when { context.noforn && context.originator != context.partner };
forbid(principal, action, resource) when {
  context.rel_to != [] && !context.rel_to.contains(context.partner) && context.originator != context.partner };
forbid(principal, action, resource) when {
  context.topics.containsAny(context.excluded_topics) && context.originator != context.partner };
forbid(principal, action, resource) when {
  context.third_party && context.originator != context.partner &&
  (context.noforn || context.tlp >= 3 ||
   (context.has_fs && !(context.further_sharing.contains(context.partner) ||
                        context.further_sharing.contains("ALL"))) ||
   (!context.has_fs && context.rel_to != [] && !context.rel_to.contains(context.partner)) ||
   (!context.has_fs && context.rel_to == [] && context.tlp > 1)) };
forbid(principal, action, resource) when {
  (context.tlp == 4 || context.orcon) && !context.approved && context.originator != context.partner };
forbid(principal, action, resource) when {
  context.now_us < context.embargo_until_us && context.originator != context.partner };
"""


def _pick(rng: np.random.Generator, items: list[Any], p: list[float]) -> Any:
    return items[int(rng.choice(len(items), p=p))]


def synthetic_label(rng: np.random.Generator, *, portion: bool = False) -> Label:
    """One label drawn from a realistic mix."""
    c = int(rng.choice(5, p=[0.70, 0.15, 0.08, 0.05, 0.02]))
    tlp = Tlp(int(rng.choice(5, p=[0.15, 0.45, 0.30, 0.06, 0.04])))
    rel = frozenset(rng.choice(PARTNERS, size=int(rng.integers(1, 5)), replace=False).tolist()) \
        if rng.random() < 0.04 else frozenset()
    zipf = np.arange(1, len(TOPICS) + 1, dtype=float) ** -1.1
    topics = frozenset(rng.choice(TOPICS, size=int(rng.integers(0 if portion else 1, 4)), replace=False,
                                  p=zipf / zipf.sum()).tolist())
    origin = None
    fs = None
    if rng.random() < 0.08:
        origin = str(rng.choice(PARTNERS))
        r = rng.random()
        if r < 0.25:
            fs = frozenset({"ALL"})
        elif r < 0.5:
            fs = frozenset(rng.choice(PARTNERS, size=3, replace=False).tolist())
    return Label(
        classification=c, tlp=tlp, rel_to=rel, noforn=rng.random() < 0.01, orcon=rng.random() < 0.02,
        topics=topics, source_refs=frozenset({"src-1"}) if rng.random() < 0.05 else frozenset(),
        originator=origin, further_sharing=fs,
    )


def synthetic_item(rng: np.random.Generator) -> MarkedItem:
    label = synthetic_label(rng)
    portions: tuple[Portion, ...] = ()
    if rng.random() < 0.05:
        portions = tuple(Portion(f"/p{i}", synthetic_label(rng, portion=True))
                         for i in range(int(rng.integers(1, 3))))
    return MarkedItem(label, portions)


def profiles() -> list[TrustProfile]:
    out = []
    for i, code in enumerate(PARTNERS):
        out.append(TrustProfile(
            partner=code, clearance=[4, 3, 3, 3, 2, 2, 2, 1, 1, 2][i],
            tlp_ceiling=[Tlp.RED, Tlp.AMBER_STRICT, Tlp.AMBER, Tlp.AMBER, Tlp.AMBER, Tlp.AMBER,
                         Tlp.GREEN, Tlp.GREEN, Tlp.GREEN, Tlp.AMBER][i],
            excluded_topics=frozenset(TOPICS[i:i + i % 3]),
            embargo=timedelta(hours=[0, 0, 0, 0, 24, 0, 48, 0, 72, 0][i]),
            sanitised_only=i >= 8,
        ))
    return out


def build(rows: int, pool_size: int, seed: int = 7) -> tuple[LabelColumns, list[MarkedItem], np.ndarray, float]:
    """A pool of distinct items appended through the builder, replicated to ``rows`` rows."""
    rng = np.random.default_rng(seed)
    pool = [synthetic_item(rng) for _ in range(pool_size)]
    b = ColumnsBuilder()
    t0 = time.perf_counter()
    for i, item in enumerate(pool):
        b.append(i, item, 0)
    append_s = time.perf_counter() - t0
    base = b.build()
    pick = rng.integers(0, pool_size, size=rows)
    span = to_micros(AT) - to_micros(START)
    added = np.sort(rng.integers(0, span, size=rows)) + to_micros(START)
    cols = replace(base.take(pick), seq=np.arange(1, rows + 1, dtype=np.int64), added_us=added.astype(np.int64))
    return cols, pool, pick, pool_size / append_s


def timed(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, float, Any]:
    """(first run, median of ``repeat`` later runs) in seconds, and the last result."""
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t0)
    return first, statistics.median(runs), out


def cedar_rate(cols: LabelColumns, pool: list[MarkedItem], pick: np.ndarray, profs: list[TrustProfile],
               sample: int) -> float:
    import cedarpy

    at_us = to_micros(AT)
    requests = []
    for k in range(sample):
        row = k * (len(cols) // sample)
        lab = pool[int(pick[row])].label
        p = profs[k % len(profs)]
        requests.append({
            "principal": f'Partner::"{p.partner}"', "action": 'Action::"receive"',
            "resource": f'Object::"{row}"',
            "context": {
                "partner": p.partner, "originator": lab.originator or "", "third_party": lab.originator is not None,
                "suspended": p.suspended, "classification": lab.classification, "clearance": p.clearance,
                "tlp": int(lab.tlp), "tlp_ceiling": int(p.tlp_ceiling), "noforn": lab.noforn,
                "orcon": lab.orcon, "approved": False, "rel_to": sorted(lab.rel_to),
                "topics": sorted(lab.topics), "excluded_topics": sorted(p.excluded_topics),
                "has_fs": lab.further_sharing is not None, "further_sharing": sorted(lab.further_sharing or ()),
                "now_us": at_us,
                "embargo_until_us": int(cols.added_us[row]) + p.embargo // timedelta(microseconds=1),
            },
        })
    policies = cedarpy.PolicySet.from_str(CEDAR_POLICY) if hasattr(cedarpy, "PolicySet") else CEDAR_POLICY
    entities = cedarpy.Entities.from_json_str("[]") if hasattr(cedarpy, "Entities") else "[]"
    t0 = time.perf_counter()
    results = cedarpy.is_authorized_batch(requests, policies, entities)
    elapsed = time.perf_counter() - t0
    agree = errors = 0
    for k, res in enumerate(results):
        row = k * (len(cols) // sample)
        p = profs[k % len(profs)]
        ours = decide(pool[int(pick[row])], p, AT, added=from_micros(int(cols.added_us[row])))
        agree += res.allowed == ours.released
        errors += bool(res.diagnostics.errors)
    print(f"  cedar agrees with decide on {agree:,}/{sample:,} (release or not); {errors} evaluation errors")
    return sample / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pool", type=int, default=20_000)
    ap.add_argument("--sample", type=int, default=3000)
    ap.add_argument("--representations", action="store_true")
    ap.add_argument("--store-rows", type=int, default=1_000_000, help="versions for the store end-to-end (0: skip)")
    ap.add_argument("--pg", default="", help="PostgreSQL URL for the store end-to-end")
    args = ap.parse_args()
    profs = profiles()
    at_us = to_micros(AT)
    t0 = time.perf_counter()
    cols, pool, pick, append_rate = build(args.rows, args.pool)
    print(f"synthetic columns: {len(cols):,} rows, {len(cols.portions):,} portion rows, "
          f"{len(cols.topic_vocab)} topics, {len(cols.partner_vocab)} partner codes "
          f"(built in {time.perf_counter() - t0:.1f} s; builder append {append_rate:,.0f} versions/s)")

    cold, warm, (verdicts, _) = timed(lambda: compute_matrix(cols, profs, at_us))
    print(f"full matrix {len(cols):,} x {len(profs)}: cold {cold * 1e3:.1f} ms, warm {warm * 1e3:.1f} ms "
          f"(goal <= 50 ms)")
    released = (verdicts <= 1).mean()
    print(f"  released share {released:.1%}; verdict counts {np.bincount(verdicts.ravel(), minlength=4).tolist()}")
    vec_rate = len(cols) * len(profs) / warm

    gbr = profs[1]
    cut = replace(gbr, clearance=1, tlp_ceiling=Tlp.GREEN, excluded_topics=gbr.excluded_topics | {"russia"})
    first, again, _ = timed(lambda: compute(cols, cut, at_us))
    print(f"one partner after scale-back: {first * 1e3:.1f} ms first, {again * 1e3:.1f} ms repeat (goal <= 10 ms)")

    since = to_micros(START)
    first, again, report = timed(lambda: whatif(cols, gbr, cut, at_us, since_us=since), repeat=3)
    print(f"what-if over {report.versions:,} versions: {first * 1e3:.0f} ms first, {again * 1e3:.0f} ms repeat, "
          f"{len(report.changed_seq):,} change (goal <= 1 s)")

    n = min(20_000, len(cols))
    rows = np.linspace(0, len(cols) - 1, n).astype(int)
    t0 = time.perf_counter()
    for k, row in enumerate(rows.tolist()):
        decide(pool[int(pick[row])], profs[k % len(profs)], AT, added=from_micros(int(cols.added_us[row])))
    scalar_rate = n / (time.perf_counter() - t0)
    print(f"scalar decide: {scalar_rate:,.0f} decisions/s")

    cedar = cedar_rate(cols, pool, pick, profs, args.sample)
    print(f"cedarpy is_authorized_batch ({args.sample:,} requests): {cedar:,.0f} decisions/s")
    print(f"vectorised (warm matrix): {vec_rate:,.0f} decisions/s = {vec_rate / cedar:,.0f}x cedarpy "
          f"(goal >= 10,000x), {vec_rate / scalar_rate:,.0f}x scalar decide; "
          f"scalar decide = {scalar_rate / cedar:.1f}x cedarpy")

    if args.store_rows:
        import os
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).parent))
        from policy_store import run as store_run

        store_run(args.store_rows, args.pg or os.environ.get("TEARLINE_TEST_POSTGRES_URL", ""))

    if args.representations:
        representations(cols)


def representations(cols: LabelColumns) -> None:
    """Membership "partner in REL TO" for every row, in three representations."""
    from pyroaring import BitMap

    code = "GBR"
    i = cols.partner_vocab.get(code)
    assert i is not None
    n = len(cols)
    vocab = len(cols.partner_vocab)
    dense = np.zeros((n, vocab), dtype=np.bool_, order="F")
    for j in range(vocab):
        dense[:, j] = (cols.rel_to[:, j // 64] >> np.uint64(j % 64)) & np.uint64(1) != 0
    bitmaps = {j: BitMap(np.flatnonzero(dense[:, j]).astype(np.uint32)) for j in range(vocab)}
    rel_rows = np.flatnonzero(cols.has_rel_to)
    word, bit = divmod(i, 64)

    def packed_all() -> Any:
        return (cols.rel_to[:, word] & np.uint64(1 << bit)) != 0

    def packed_rare() -> Any:
        return (cols.rel_to[rel_rows, word] & np.uint64(1 << bit)) != 0

    def roaring() -> Any:
        out = np.zeros(n, dtype=np.bool_)
        out[np.asarray(bitmaps[i].to_array(), dtype=np.intp)] = True
        return out

    for name, fn in (("dense bool column", lambda: dense[:, i]), ("packed bitset, all rows", packed_all),
                     ("packed bitset, REL TO rows", packed_rare), ("pyroaring to dense", roaring)):
        _, t, _ = timed(fn, repeat=20)
        print(f"  {name}: {t * 1e3:.3f} ms")
    print(f"  memory: dense {dense.nbytes / 1e6:.0f} MB, packed {cols.rel_to.nbytes / 1e6:.0f} MB, "
          f"roaring {sum(len(b.serialize()) for b in bitmaps.values()) / 1e6:.2f} MB")
    print(json.dumps({"rows": n, "rel_to_rows": int(rel_rows.shape[0]), "vocab": vocab}))


if __name__ == "__main__":
    main()
