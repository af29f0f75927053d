"""Leak attribution: how often a leak is traced to a true source, and how often an innocent is accused.

Builds the demo node (its reports), ingests ATT&CK ICS 18.1 and Mobile 17.1 into it, adds partners
to make 10, and exports each partner's copy through the release pipeline (fingerprint on, the
default). Then simulates leaks from those exact bytes, 1,000 per row (``--leaks``), each traced
with :class:`tearline.services.trace.Tracer` as `tearline trace` does:

* a single partner leaks 1, 5 or 20 objects (a STIX bundle of its copies);
* a single partner leaks prose: one paragraph, or 300 words (consecutive paragraphs of its copies
  of the demo reports and ATT&CK descriptions), re-wrapped at a random width and re-cased;
* coalitions of 2 and 3 partners mix their copies of 20 objects they all received, object by
  object (each object from one member) or symbol by symbol (each choice from a random member; the
  copy is re-embedded from a member's copy with those choices, which is what comparing copies lets
  a coalition do).

Prints per row: the share of leaks that named a true source, the share that accused an innocent
partner, symbols read per leak (median) and the time. Goals: a single leaker named from 5 objects
in >= 99%; from 300 words in >= 95%; a coalition of 2 from 20 objects in >= 95%, of 3 in >= 90%;
innocents accused in <= 0.1% of the leaks of every row.

Usage: python bench/trace.py [--leaks 1000] [--seconds 900] [--data-dir ../shared/data/attack]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from tearline.bootstrap import open_node
from tearline.canonical import dumps_ordered
from tearline.crypto.sealing import write_kek_file
from tearline.demo.run import run_demo
from tearline.fingerprint.embed import PROSE_FIELDS, embed
from tearline.fingerprint.leak import read_leak
from tearline.model.labeltext import parse_label
from tearline.services.trust import ProfileChange
from tearline.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
EXTRA = (("ITA", "Italy"), ("NLD", "Netherlands"), ("NOR", "Norway"))
SKIP_TYPES = ("marking-definition", "identity", "x-mitre-matrix", "x-mitre-collection")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leaks", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=900.0, help="stop each row's loop after this share of time")
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "attack"))
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    data_dir = Path(args.data_dir)
    files = [data_dir / "ics-attack-18.1.json", data_dir / "mobile-attack-17.1.json"]
    if not all(f.exists() for f in files):
        sys.exit(f"ATT&CK bundles not found in {data_dir} (--data-dir)")
    tmp = Path(tempfile.mkdtemp(prefix="tearline-trace-"))
    write_kek_file(tmp / "node.kek")
    settings = Settings(data=tmp / "node", kek_file=str(tmp / "node.kek"))
    t0 = time.perf_counter()
    run_demo(settings, Console(file=open("/dev/null", "w")))  # noqa: SIM115 - the demo's console output is not wanted
    node = open_node(settings)
    node.intake.ingest_paths([str(f) for f in files], default=parse_label("UNCLASSIFIED//TLP:CLEAR"))
    for code, name in EXTRA:
        node.trust.add_partner(code, name, ProfileChange(clearance="SECRET", tlp_ceiling="AMBER"))
    partners = sorted(p.code for p in node.trust.partners())
    copies: dict[str, dict[str, dict[str, Any]]] = {}
    exporter = node.exporter()
    for p in partners:
        out = tmp / f"{p}.json"
        with out.open("wb") as fh:
            exporter.export(p, fh)
        bundle = orjson.loads(out.read_bytes())
        copies[p] = {o["id"]: o for o in bundle["objects"] if o["type"] not in SKIP_TYPES}
    print(f"node ready in {time.perf_counter() - t0:.0f} s: {len(partners)} partners, objects each: "
          + ", ".join(f"{p} {len(copies[p])}" for p in partners))
    tracer = node.tracer()
    tracer.refresh()
    code = node.release.fingerprints.code

    def verdict(leaked: bytes, guilty: set[str]) -> tuple[bool, bool, int]:
        res = tracer.trace([read_leak(leaked)], proofs=False, thresholds=False)
        named = {p.partner for p in res.accused}
        return bool(named & guilty), bool(named - guilty), res.symbols

    def bundle(objs: list[dict[str, Any]]) -> bytes:
        return b'{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[' + b",".join(
            dumps_ordered(o) for o in objs) + b"]}"

    def single_objects(n: int) -> tuple[bytes, set[str]]:
        p = rng.choice([q for q in partners if len(copies[q]) >= n])
        ids = rng.sample(sorted(copies[p]), n)
        return bundle([copies[p][i] for i in ids]), {p}

    paragraphs: dict[str, list[str]] = {}
    for p in partners:
        paragraphs[p] = [para for o in copies[p].values() for f in PROSE_FIELDS if isinstance(o.get(f), str)
                         for para in o[f].split("\n\n") if len(para.split()) >= 40]

    def rewrap(text: str) -> str:
        text = textwrap.fill(" ".join(text.split()), width=rng.randint(50, 110))
        return rng.choice((str, str.lower, str.upper, str.title))(text)

    def single_paragraph() -> tuple[bytes, set[str]]:
        p = rng.choice([q for q in partners if paragraphs[q]])
        return rewrap(rng.choice(paragraphs[p])).encode(), {p}

    reports: dict[str, list[str]] = {
        p: ["\n\n".join(o["description"].split("\n\n")) for o in copies[p].values()
            if o["type"] == "report" and len(o.get("description", "").split()) >= 120]
        for p in partners
    }

    def words_300() -> tuple[bytes, set[str]]:
        p = rng.choice([q for q in partners if paragraphs[q]])
        pool = reports[p] if reports[p] and rng.random() < 0.5 else paragraphs[p]
        start = rng.randrange(len(pool))
        words: list[str] = []
        i = start
        while len(words) < 300 + 40:
            words += pool[i % len(pool)].split()
            i += 1
        cut = rng.randrange(0, 40)
        return rewrap(" ".join(words[cut:cut + 300])).encode(), {p}

    def mixed(members: list[str]) -> Callable[[bytes], int]:
        choice: dict[bytes, int] = {}

        def bit(pos: bytes) -> int:
            if pos not in choice:
                choice[pos] = code.symbol(rng.choice(members), pos)
            return choice[pos]

        return bit

    def coalition(c: int, mix: str) -> tuple[bytes, set[str]]:
        while True:
            members = rng.sample(partners, c)
            common = sorted(set.intersection(*(set(copies[m]) for m in members)))
            if len(common) >= 20:
                break
        ids = rng.sample(common, 20)
        objs = []
        for i in ids:
            if mix == "object":
                objs.append(copies[rng.choice(members)][i])
            else:
                objs.append(embed(copies[members[0]][i], mixed(members), code))
        return bundle(objs), set(members)

    rows = [
        ("single partner, 1 object", lambda: single_objects(1)),
        ("single partner, 5 objects", lambda: single_objects(5)),
        ("single partner, 20 objects", lambda: single_objects(20)),
        ("single partner, 1 paragraph", single_paragraph),
        ("single partner, 300 words", words_300),
        ("coalition of 2, 20 objects, object by object", lambda: coalition(2, "object")),
        ("coalition of 2, 20 objects, symbol by symbol", lambda: coalition(2, "symbol")),
        ("coalition of 3, 20 objects, object by object", lambda: coalition(3, "object")),
        ("coalition of 3, 20 objects, symbol by symbol", lambda: coalition(3, "symbol")),
    ]
    budget = args.seconds / len(rows)
    print(f"\n{'scenario':<48} {'leaks':>6} {'traced':>8} {'innocent':>9} {'symbols':>8} {'s':>6}")
    total_innocent = total = 0
    for name, make in rows:
        start = time.perf_counter()
        n = traced = innocent = 0
        syms: list[int] = []
        while n < args.leaks and time.perf_counter() - start < budget:
            leaked, guilty = make()
            hit, bad, s = verdict(leaked, guilty)
            n += 1
            traced += hit
            innocent += bad
            syms.append(s)
        total_innocent += innocent
        total += n
        print(f"{name:<48} {n:>6} {traced / n:>7.1%} {innocent / n:>8.2%} {statistics.median(syms):>8.0f} "
              f"{time.perf_counter() - start:>6.1f}", flush=True)
    print(f"\ninnocent partners accused in {total_innocent} of {total} leaks ({total_innocent / max(total, 1):.3%})")
    node.close()


if __name__ == "__main__":
    main()
