"""PSI phases, seconds and bytes, over synthetic IPv4 items (bounded run).

    PYTHONPATH=src python bench/psi.py --server 100000 --query 1000,10000 [--structure gcs,bloom]

Phases: server setup (encrypt the server set and build the GCS or Bloom filter; cached between
queries), client request, server answer, client result. Partial: the cached, incrementally updated
set and the HTTP round trip are not measured yet (docs/psi.md)."""

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
    a = ap.parse_args()
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


if __name__ == "__main__":
    main()
