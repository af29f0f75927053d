"""check_object and deep_check throughput on the ATT&CK bundles (first pass, caches cleared)."""
import glob
import sys
import time

import orjson

from tearline.stix import validate as v

objs = []
for f in sorted(glob.glob(sys.argv[1] + "/*.json")):
    objs += orjson.loads(open(f, "rb").read())["objects"]
def run(fn, items, label, clear=False):
    best = 1e9
    for _ in range(5):
        if clear:
            v._valid_identifiers.clear(); v._valid_timestamps.clear()
        t = time.perf_counter()
        for o in items: fn(o)
        best = min(best, time.perf_counter() - t)
    rate = len(items) / best
    print(f"{label:40s} {rate:12,.0f} objects/s")
    return rate
base = run(lambda o: (o.get("type"), o.get("id"), o.get("created")), objs, "baseline (3 dict look-ups)")
cold = run(v.check_object, objs, "check_object, caches cleared", clear=True)
warm = run(v.check_object, objs, "check_object, caches warm")
print(f"ratio baseline/cold: {base/cold:.1f}x")
sample = objs[::50]
v.deep_check(sample[0])
t = time.perf_counter()
for o in sample: v.deep_check(o)
dt = time.perf_counter() - t
print(f"{'deep_check':40s} {len(sample)/dt:12,.0f} objects/s ({dt/len(sample)*1000:.2f} ms each, {len(sample)} objects)")
print(f"ratio deep/cold per object: {cold/(len(sample)/dt):.0f}x")
