"""Validator throughput on the ATT&CK bundles: `check_object` (cold and warm caches) and the
OASIS `stix2-validator` (`deep_check`) on a sample, against a trivial baseline in the same run.

Usage: python bench/stix_validate.py [DATA_DIR]   (default ../shared/data/attack)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from tearline.stix import validate as v


def run(fn: Callable[[Any], object], items: list[Any], label: str, clear: bool = False) -> float:
    best = 1e9
    for _ in range(5):
        if clear:
            v._valid_identifiers.clear()
            v._valid_timestamps.clear()
        t = time.perf_counter()
        for o in items:
            fn(o)
        best = min(best, time.perf_counter() - t)
    rate = len(items) / best
    print(f"{label:40s} {rate:12,.0f} objects/s")
    return rate


def main() -> None:
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "attack"
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    objs: list[Any] = []
    for f in sorted(data.glob("*.json")):
        objs += orjson.loads(f.read_bytes())["objects"]
    if not objs:
        sys.exit(f"no bundles in {data}")
    base = run(lambda o: (o.get("type"), o.get("id"), o.get("created")), objs, "baseline (3 dict look-ups)")
    cold = run(v.check_object, objs, "check_object, caches cleared", clear=True)
    run(v.check_object, objs, "check_object, caches warm")
    print(f"ratio baseline/cold: {base / cold:.1f}x")
    sample = objs[::50]
    v.deep_check(sample[0])
    t = time.perf_counter()
    for o in sample:
        v.deep_check(o)
    dt = time.perf_counter() - t
    print(f"{'deep_check':40s} {len(sample) / dt:12,.0f} objects/s ({dt / len(sample) * 1000:.2f} ms each)")
    print(f"ratio check_object/deep_check per object: {cold / (len(sample) / dt):.0f}x")


if __name__ == "__main__":
    main()
