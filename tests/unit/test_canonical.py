"""canonical.dumps: deterministic bytes that hold no more memory than their length."""

from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Callable

import orjson

from tearline.canonical import dumps


def stix_like(n: int) -> dict[str, object]:
    return {
        "type": "attack-pattern", "spec_version": "2.1", "id": f"attack-pattern--{n:08d}-0000-4000-8000-000000000000",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": f"technique {n}", "description": "adversaries may " * (20 + n % 50),
        "external_references": [{"source_name": "mitre-attack", "external_id": f"T{n:04d}"}],
    }


def held_by(make: Callable[[], list[bytes]]) -> tuple[int, int]:
    """(bytes of memory still traced after ``make()`` returned, total length of what it returned)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        out = make()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return held, sum(len(b) for b in out)


def test_dumps_is_sorted_compact_json() -> None:
    value = {"b": [1, 2], "a": {"y": None, "x": "é"}}
    assert dumps(value) == b'{"a":{"x":"\xc3\xa9","y":null},"b":[1,2]}'
    assert orjson.loads(dumps(value)) == value


def test_dumps_holds_no_more_than_its_length() -> None:
    """Bodies are kept in caches bounded by their length: the allocation must be that length."""
    objs = [stix_like(n) for n in range(500)]
    held, length = held_by(lambda: [dumps(o) for o in objs])
    list_and_headers = 500 * (sys.getsizeof(b"") + 8) + 8192
    assert held <= length + list_and_headers, (held, length)


def test_dumps_small_values_are_small() -> None:
    held, _ = held_by(lambda: [dumps({"more": False}) for _ in range(1000)])
    assert held < 1000 * 100, held  # orjson alone keeps a 4 KiB buffer behind each
