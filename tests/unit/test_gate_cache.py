"""The gate's kept scan results (``tearline.services.gate``): bounded by the bytes they hold, in
Python's own count as well as the gate's, and never a reason to let a protected term through."""

from __future__ import annotations

import gc
import tracemalloc

import orjson

from tearline.sanitize.scanner import Hit
from tearline.services.gate import Gate, result_bytes

TERMS = [("t-1", "Ivan Petrovich Sidorov")]


def body(i: int, *, hit: bool = False) -> bytes:
    text = f"met Ivan Petrovich Sidorov at {i}" if hit else f"report number {i}"
    return orjson.dumps({"type": "note", "id": f"note--{i}", "content": text})


def gate(bound: int, version: list[str] | None = None) -> Gate:
    v = version or ["v1"]
    g = Gate(lambda: TERMS, lambda: v[0], background=False, cache_bytes=bound)
    g.refresh()
    return g


def test_the_counted_bytes_never_pass_the_bound() -> None:
    g = gate(20_000)
    for i in range(1_000):
        g.scan(body(i, hit=i % 7 == 0))
        assert g.cached_bytes <= 20_000
    assert 0 < g.cached_results < 1_000  # the oldest went out
    assert g.cached_bytes > 20_000 - 2 * result_bytes("v1", [Hit("t-1", "$.content")])  # the bound is used


def test_a_result_with_hits_counts_more_than_a_clean_one() -> None:
    clean, hit = gate(1_000_000), gate(1_000_000)
    clean.scan(body(1))
    assert hit.scan(body(1, hit=True))
    assert hit.cached_bytes > clean.cached_bytes == result_bytes("v1", [])


def test_an_evicted_result_is_found_again() -> None:
    g = gate(5 * result_bytes("v1", []))
    assert g.scan(body(0, hit=True))
    for i in range(1, 50):
        g.scan(body(i))
    assert [h.term_id for h in g.scan(body(0, hit=True))] == ["t-1"]


def test_a_new_term_empties_the_cache_and_is_enforced() -> None:
    version = ["v1"]
    terms = list(TERMS)
    g = Gate(lambda: terms, lambda: version[0], background=False, cache_bytes=1_000_000)
    g.refresh()
    assert g.scan(body(3)) == []
    terms.append(("t-2", "report number 3"))
    version[0] = "v2"
    g.refresh()
    assert g.cached_bytes == 0
    assert [h.term_id for h in g.scan(body(3))] == ["t-2"]


def test_the_memory_held_stays_within_the_bound() -> None:
    bound = 1_000_000
    bodies = [body(i, hit=i % 5 == 0) for i in range(12_000)]
    g = gate(bound)
    g.scan(bodies[0])  # the scanner's own one-off allocations happen before the count starts
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for b in bodies[1:]:
            g.scan(b)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert g.cached_results < len(bodies)
    assert held <= bound * 1.1, held
