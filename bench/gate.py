"""Benchmark of the protected-term gate (tearline.sanitize.scanner); prints figures, asserts nothing.

    /work/venv/bin/python bench/gate.py [--mb 100] [--quick]

Measures, with 10,000 and 100,000 random person-name terms: TermSet build time and RSS growth,
scan_json throughput over ~100 MB of generated STIX-like JSON (as 1 MB bundles and as single objects),
and, as baselines in the same run on the same normalised text, raw engine throughput of hyperscan
(literal mode + whole-word check, as used), pyahocorasick and a Python ``re`` alternation (compile
bounded to 60 s in a child process; scanned on a small sample and extrapolated). Then the
false-positive rate: ATT&CK objects (``/work/shared/data/attack/*.json``) blocked by 10,000 random
name terms. Bounded: a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import glob
import multiprocessing as mp
import random
import re
import time
import uuid
from collections import Counter
from typing import Any

import ahocorasick
import orjson

from tearline.sanitize.normalize import normalise, normalise_ascii
from tearline.sanitize.scanner import TermSet, _Engine

ATTACK = "/work/shared/data/attack/*.json"
SYL = [
    "an",
    "ber",
    "cha",
    "dan",
    "el",
    "fer",
    "gar",
    "hal",
    "in",
    "jo",
    "ka",
    "lin",
    "mar",
    "nor",
    "ol",
    "per",
    "qui",
    "ros",
    "sal",
    "tor",
    "ul",
    "van",
    "wes",
    "xen",
    "yor",
    "zel",
    "bri",
    "cal",
    "dor",
    "eth",
    "fin",
    "gil",
    "har",
    "ivo",
    "jas",
    "kel",
    "lor",
    "mil",
    "nat",
    "ost",
]
TEXT = (
    "the actor used a malicious payload to gain initial access via spearphishing attachment then "
    "moved laterally with stolen credentials and exfiltrated data over an encrypted channel to a "
    "command and control server hosted in a cloud provider the campaign targeted government "
    "finance energy and telecommunications organisations across europe and asia registry run keys "
    "scheduled tasks powershell scripts were observed together with dll side loading"
)
WORDS = TEXT.split(" ")


def names(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        first = "".join(rng.choice(SYL) for _ in range(rng.randint(2, 3))).title()
        last = "".join(rng.choice(SYL) for _ in range(rng.randint(2, 3))).title()
        out.add(f"{first} {last}" if rng.random() < 0.7 else last)
    return sorted(out)


def stix_objects(total_bytes: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    docs: list[bytes] = []
    size = 0
    while size < total_bytes:
        kind = rng.choice(["indicator", "malware", "report", "note", "attack-pattern"])
        obj: dict[str, Any] = {
            "type": kind,
            "spec_version": "2.1",
            "id": f"{kind}--{uuid.UUID(int=rng.getrandbits(128))}",
            "created": "2026-03-14T09:26:53.589Z",
            "modified": "2026-03-14T09:26:53.589Z",
            "name": " ".join(rng.choice(WORDS) for _ in range(3)),
            "description": " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 200))),
            "labels": ["malicious-activity"],
            "external_references": [
                {
                    "source_name": "mitre-attack",
                    "external_id": f"T{rng.randint(1000, 1999)}",
                    "url": "https://attack.mitre.org/techniques/T1566/001",
                }
            ],
            "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"],
        }
        if kind == "indicator":
            obj["pattern"] = f"[ipv4-addr:value = '198.51.100.{rng.randint(1, 254)}']"
            obj["pattern_type"] = "stix"
        doc = orjson.dumps(obj)
        docs.append(doc)
        size += len(doc)
    return docs


def bundles(docs: list[bytes], per: int = 1_000_000) -> list[bytes]:
    out, cur, size = [], [], 0
    for d in docs:
        cur.append(d)
        size += len(d)
        if size >= per:
            out.append(b'{"type":"bundle","objects":[' + b",".join(cur) + b"]}")
            cur, size = [], 0
    if cur:
        out.append(b'{"type":"bundle","objects":[' + b",".join(cur) + b"]}")
    return out


def rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def _re_child(terms: list[str], sample: bytes, queue: Any) -> None:
    t0 = time.perf_counter()
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in terms) + r")\b")
    compiled = time.perf_counter() - t0
    text = sample.decode()
    t0 = time.perf_counter()
    count = len(pattern.findall(text))
    queue.put((compiled, time.perf_counter() - t0, count))


def re_baseline(terms: list[str], sample: bytes) -> str:
    queue: Any = mp.get_context("fork").Queue()
    proc = mp.get_context("fork").Process(target=_re_child, args=(terms, sample, queue))
    proc.start()
    proc.join(60 + 30)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return "failed to compile (or scan the sample) in 60 s + 30 s"
    compiled, scan, _count = queue.get()
    if compiled > 60:
        return f"failed to compile in 60 s (took {compiled:.1f} s)"
    mbs = len(sample) / 1e6 / scan if scan else float("inf")
    return (
        f"compile {compiled:.1f} s, {mbs:.4f} MB/s (extrapolated from a {len(sample) / 1e3:.0f} kB "
        f"sample scanned in {scan:.2f} s)"
    )


def read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def one_size(n: int, big: list[bytes], single: list[bytes], attack: list[bytes], reps: int, quick: bool) -> None:
    total = sum(len(b) for b in big) / 1e6
    single_mb = sum(len(d) for d in single) / 1e6
    terms = names(n, seed=n)
    pairs = [(f"t{i}", t) for i, t in enumerate(terms)]
    rss0 = rss_kb()
    build, ts = timed(lambda: TermSet.build(pairs))
    rss1 = rss_kb()
    print(f"\n== {n} terms: TermSet.build {build:.2f} s, RSS +{(rss1 - rss0) / 1024:.0f} MB")
    t, hits = timed(lambda: sum(len(ts.scan_json(b)) for b in big))
    print(f"scan_json, 1 MB bundles: {total / t:.0f} MB/s ({total:.0f} MB in {t:.2f} s, {hits} hits)")
    t, hits = timed(lambda: sum(len(ts.scan_json(d)) for d in single))
    print(
        f"scan_json, one object per call ({len(single)} objects, {single_mb:.1f} MB): "
        f"{single_mb / t:.0f} MB/s ({t / len(single) * 1e6:.1f} us/object)"
    )
    if attack:
        attack_mb = sum(len(a) for a in attack) / 1e6
        t, hits = timed(lambda: sum(len(ts.scan_json(a)) for _ in range(reps) for a in attack))
        print(f"scan_json, ATT&CK bundles x{reps}: {reps * attack_mb / t:.0f} MB/s ({hits // reps} hits/pass)")
    # the engines alone on the same normalised text (no JSON work)
    text = normalise_ascii(b"\x00".join(big[: max(1, len(big) // 5)]), quote_as_nul=True)
    tmb = len(text) / 1e6
    pats = [normalise(t).encode() for t in terms]
    hs_build, _engine = timed(lambda: _Engine(pats))
    t, found = timed(lambda: ts._matches(text))
    print(
        f"engine hyperscan literal + whole-word check: {tmb / t:.0f} MB/s on {tmb:.0f} MB "
        f"(compile {hs_build:.2f} s, {len(found)} whole-word matches)"
    )
    aho = ahocorasick.Automaton()

    def aho_build() -> None:
        for i, p in enumerate(pats):
            aho.add_word(p.decode(), i)
        aho.make_automaton()

    ab, _ = timed(aho_build)
    stext = text.decode("latin-1")
    t, cnt = timed(lambda: sum(1 for _ in aho.iter(stext)))
    print(f"engine pyahocorasick, no word check: {tmb / t:.0f} MB/s (build {ab:.2f} s, {cnt} raw matches)")
    if not (quick and n == 100_000):
        print("engine python re alternation:", re_baseline([normalise(t) for t in terms], text[:100_000]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=100.0)
    ap.add_argument("--quick", action="store_true", help="10 MB, skip the re baseline for 100k")
    args = ap.parse_args()
    mb = 10.0 if args.quick else args.mb
    docs = stix_objects(int(mb * 1e6), seed=1)
    big = bundles(docs)
    single = docs[: len(docs) // 10]
    print(f"corpus: {sum(len(b) for b in big) / 1e6:.1f} MB STIX-like JSON in {len(big)} bundles; {len(docs)} objects")
    attack_files = sorted(glob.glob(ATTACK))
    attack = [read(f) for f in attack_files]
    reps = 0
    if attack:
        attack_mb = sum(len(a) for a in attack) / 1e6
        reps = max(1, int(mb // attack_mb))
        print(f"ATT&CK: {attack_mb:.1f} MB in {len(attack)} bundles")
    for n in (10_000, 100_000):
        one_size(n, big, single, attack, reps, args.quick)
    if attack:
        fp_terms = names(10_000, seed=7)
        ts = TermSet.build([(f"t{i}", t) for i, t in enumerate(fp_terms)])
        objects = [o for a in attack for o in orjson.loads(a)["objects"]]
        by_term: Counter[str] = Counter()
        blocked = 0
        for o in objects:
            hits = ts.scan_json(orjson.dumps(o))
            blocked += bool(hits)
            by_term.update({fp_terms[int(h.term_id[1:])] for h in hits})
        print(
            f"\nfalse positives: {blocked} of {len(objects)} ATT&CK objects blocked by 10,000 "
            f"random name terms ({100 * blocked / len(objects):.2f} %); objects per term: "
            f"{dict(by_term.most_common(8))}"
        )


if __name__ == "__main__":
    main()
