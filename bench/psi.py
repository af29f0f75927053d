"""PSI phases, seconds and bytes, over synthetic IPv4 items (bounded run).

    PYTHONPATH=src python bench/psi.py --server 100000 --query 1000,10000 [--structure gcs,bloom]

Phases: server setup (encrypt the server set and build the GCS or Bloom filter; cached between
queries), client request, server answer, client result. ``--incremental``: the cached set grown by
one 10k shard. Not yet measured: the HTTP round trip, the 100k query and the ratio to a tearline
session (there is no HTTP session yet, so the figures are the library's own protocol)."""

from __future__ import annotations

import argparse
import random
import time

from tearline.services import psi


def _items(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = {f"ipv4-addr\x1f{rng.randrange(1 << 32)}" for _ in range(n)}
    while len(out) < n:
        out.add(f"ipv4-addr\x1f{rng.randrange(1 << 32)}")
    return list(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", type=int, default=100_000)
    ap.add_argument("--query", default="1000,10000")
    ap.add_argument("--structure", default="gcs,bloom")
    ap.add_argument("--incremental", action="store_true", help="measure the cached set instead")
    a = ap.parse_args()
    if a.incremental:
        incremental(a.server)
        return
    server = _items(a.server, 1)
    for structure in a.structure.split(","):
        for q in (int(x) for x in a.query.split(",")):
            client = server[: q // 2] + _items(q - q // 2, 2)
            t0 = time.perf_counter()
            ss = psi.server_setup(server, q, cardinality_only=False, gcs=structure == "gcs")
            t1 = time.perf_counter()
            c = psi.Client(client, cardinality_only=False)
            req = c.request()
            t2 = time.perf_counter()
            resp = psi.server_answer(ss, req)
            t3 = time.perf_counter()
            got = c.result(ss.setup, resp)
            t4 = time.perf_counter()
            assert isinstance(got, list) and len(got) >= q // 2
            print(f"{structure} server={a.server} query={q}: setup {t1 - t0:.2f}s {len(ss.setup)}B | "
                  f"request {t2 - t1:.2f}s {len(req)}B | answer {t3 - t2:.2f}s {len(resp)}B | "
                  f"result {t4 - t3:.2f}s | query total (setup cached) {t4 - t1:.2f}s", flush=True)




def incremental(server_size: int = 100_000, add: int = 10_000, query: int = 10_000) -> None:
    """The cached set: build, add ``add`` new values as one shard, then a query across the shards."""
    cs = psi.CachedSet(query, cardinality_only=False)
    t0 = time.perf_counter()
    cs.add(_items(server_size, 1))
    t1 = time.perf_counter()
    cs.add(_items(add, 3))
    t2 = time.perf_counter()
    c = psi.Client(_items(query, 2), cardinality_only=False)
    resp = cs.answer(c.request())
    psi.client_result(c, cs.shards, resp)
    t3 = time.perf_counter()
    print(f"cached set {server_size}: build {t1 - t0:.2f}s | add {add} {t2 - t1:.2f}s | "
          f"query {query} over {len(cs.shards)} shards {t3 - t2:.2f}s", flush=True)


if __name__ == "__main__":
    main()
