"""What the protected-term gate adds to serving a TAXII page.

Loads the ATT&CK bundles into a fresh node with one partner and a vault of N person-name terms,
then measures, for pages of 100 objects:

* the release pipeline alone (decide, tearline, marking, gate, no recording), with and without the
  gate stage: the cost of the gate on a page nobody has asked for yet (cold);
* a TAXII objects page through the served app (in-process ASGI), first request and repeats, with
  and without the gate: what a partner's client sees (the gate's verdict is cached per exact bytes
  and term-set version, so repeats pay a digest, not a scan).

Goal: the gate adds under 10% to a page's serving time.
Usage: python bench/gate_page.py [--terms 10000] [--pages 20]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from tearline.asgi import build_app
from tearline.bootstrap import create_node
from tearline.crypto.sealing import write_kek_file
from tearline.model.sources import Grade, SourceIdentity
from tearline.services.trust import ProfileChange
from tearline.settings import Settings
from tearline.store.schema import objects

FIRST = ["Anna", "Boris", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hamid", "Irina", "Jonas", "Kasia", "Lars"]
LAST = ["Novak", "Petrov", "Okafor", "Lindqvist", "Haddad", "Moreau", "Sato", "Kowalski", "Brennan", "Ferreira"]


def names(n: int, seed: int = 3) -> list[str]:
    rnd = random.Random(seed)
    out = set()
    while len(out) < n:
        out.add(f"{rnd.choice(FIRST)}{rnd.randint(10, 99999)} {rnd.choice(LAST)}{rnd.randint(10, 9999)}")
    return sorted(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--terms", type=int, default=10_000)
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "attack"))
    a = ap.parse_args()
    files = sorted(Path(a.data).glob("*.json"))
    if not files:
        sys.exit(f"no bundles in {a.data}")
    tmp = Path(tempfile.mkdtemp())
    write_kek_file(tmp / "v.kek")
    node, _ = create_node(Settings(data=tmp / "node", kek_file=str(tmp / "v.kek")), code="GBR")
    _, token = node.trust.add_partner("USA", "United States", ProfileChange(clearance="SECRET", tlp_ceiling="AMBER"))
    node.intake.ingest_paths([str(f) for f in files], default=node.info.default_label)
    t = time.perf_counter()
    node.vault.add_source("KESTREL", SourceIdentity(name="Qqq Zzzx", terms=tuple(names(a.terms))),
                          grade=Grade.parse("B2"))
    node.gate.refresh()
    print(f"{a.terms:,} protected terms sealed and compiled in {time.perf_counter() - t:.1f} s")
    with node.db.read() as conn:
        rows = list(conn.execute(select(objects).order_by(objects.c.seq)))
    pages = [rows[i * 100 : (i + 1) * 100] for i in range(min(a.pages, len(rows) // 100))]
    gate = node.release.gate

    def pipeline(with_gate: bool) -> float:
        node.release.gate = gate if with_gate else None
        times = []
        for page in pages:
            t = time.perf_counter()
            node.release.release("USA", page, channel="preview", record=False)
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    gate._cache.clear()  # type: ignore[union-attr]
    off, on = pipeline(False), pipeline(True)
    print(f"pipeline, page of 100 (cold): {off * 1e3:.1f} ms without the gate, {on * 1e3:.1f} ms with it "
          f"(+{(on / off - 1):.0%})")

    async def served(with_gate: bool) -> tuple[float, float]:
        node.release.gate = gate if with_gate else None
        app = build_app(node)
        h = {"Accept": "application/taxii+json;version=2.1", "Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            url = "/api/collections/shared/objects/?limit=100"
            firsts, repeats = [], []
            for _ in range(a.pages):
                t = time.perf_counter()
                r = await c.get(url, headers=h)
                firsts.append(time.perf_counter() - t)
                for _ in range(5):
                    t = time.perf_counter()
                    await c.get(url, headers=h)
                    repeats.append(time.perf_counter() - t)
                body = r.json()
                if not body.get("more"):
                    break
                url = f"/api/collections/shared/objects/?limit=100&next={body['next']}"
        return statistics.median(firsts), statistics.median(repeats)

    gate._cache.clear()  # type: ignore[union-attr]
    f_off, r_off = asyncio.run(served(False))
    gate._cache.clear()  # type: ignore[union-attr]
    f_on, r_on = asyncio.run(served(True))
    print(f"TAXII page of 100, first request: {f_off * 1e3:.1f} ms without the gate, {f_on * 1e3:.1f} ms with it")
    print(f"TAXII page of 100, repeats:       {r_off * 1e3:.2f} ms without the gate, {r_on * 1e3:.2f} ms with it "
          "(answered from the kept answer: the gate does not run)")
    cost = on - off
    print(f"the gate's own cost: {cost * 1e3:.1f} ms per page of 100 never served before = "
          f"{cost / f_off:.1%} of a first request's serving time, 0 on repeats (goal: under 10%)")
    node.close()


if __name__ == "__main__":
    main()
