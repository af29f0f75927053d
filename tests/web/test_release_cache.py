"""The release cache (``tearline.services.serving.ReleaseCache``): outcomes per (partner, seq),
identical bodies kept once, and a byte bound that holds for the memory actually used."""

from __future__ import annotations

import tracemalloc

from tearline.canonical import dumps
from tearline.services.serving import Entry, ReleaseCache

STAMP = (3, 7, "", -1)
PARTNERS = ("USA", "CAN", "AUS", "NZL")


def body(n: int) -> bytes:
    """Bytes made the way the pipeline makes them, about the size of an ATT&CK object."""
    return dumps({"type": "attack-pattern", "id": f"attack-pattern--{n:036d}", "description": "x" * (900 + n % 900)})


def entry(n: int, data: bytes | None) -> Entry:
    return Entry(STAMP, data, True, 100_000 + n, 200_000 + n)


def test_same_bytes_for_several_partners_are_kept_once() -> None:
    cache = ReleaseCache()
    for p in PARTNERS:
        cache.put(p, 5, entry(5, body(5)))  # equal bytes, distinct objects
    got = [cache.get(p, 5, STAMP) for p in PARTNERS]
    assert all(g is not None and g.body == body(5) for g in got)
    assert len({id(g.body) for g in got if g is not None}) == 1
    assert cache.distinct_bodies == 1
    assert cache.size_bytes == len(body(5)) + 4 * ReleaseCache.ENTRY_BYTES


def test_a_shared_body_goes_with_its_last_entry() -> None:
    cache = ReleaseCache()
    cache.put("USA", 1, entry(1, body(1)))
    cache.put("CAN", 1, entry(1, body(1)))
    cache.put("USA", 1, entry(1, None))  # USA's outcome changed to a withhold
    assert cache.distinct_bodies == 1
    assert cache.get("CAN", 1, STAMP) is not None
    cache.put("CAN", 1, entry(1, body(2)))  # and CAN's to other bytes
    assert cache.distinct_bodies == 1
    assert cache.size_bytes == len(body(2)) + 2 * ReleaseCache.ENTRY_BYTES
    assert cache.get("CAN", 1, STAMP).body == body(2)  # type: ignore[union-attr]


def test_another_stamp_misses() -> None:
    cache = ReleaseCache()
    cache.put("USA", 1, entry(1, body(1)))
    assert cache.get("USA", 1, (3, 8, "", -1)) is None
    assert cache.get("CAN", 1, STAMP) is None


def test_the_bound_holds_for_the_memory_used() -> None:
    """Filled far past its bound, four partners' outcomes hold no more memory than the bound,
    entries and bodies included (bodies made by ``dumps``, which the pipeline uses)."""
    bound = 2 * 1024 * 1024
    bodies = [body(n) for n in range(4000)]  # ~5.4 MB of distinct bodies
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        cache = ReleaseCache(bound)
        for n, data in enumerate(bodies):
            for p in PARTNERS:
                cache.put(p, n, entry(n, bytes(memoryview(data))))  # a copy per partner, as the pipeline makes
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert cache.size_bytes <= bound
    assert len(cache) < 4 * len(bodies)  # it did evict
    assert cache.distinct_bodies * 4 >= len(cache) - 4  # partners share what they were given alike
    assert held <= bound * 1.1, (held, bound)
    newest = len(bodies) - 1
    assert all(cache.get(p, newest, STAMP) is not None for p in PARTNERS)
    assert cache.get("USA", 0, STAMP) is None  # the oldest went first
