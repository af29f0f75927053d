"""canonical: dumps (deterministic bytes that hold no more memory than their length) and the
times stored as microseconds."""

from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import orjson
from hypothesis import given
from hypothesis import strategies as st

from tearline.canonical import dumps, from_micros, timestamp_micros, to_micros


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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(timezones=st.just(UTC) | _OFFSETS))
def test_micros_are_exact_and_go_back(at: datetime) -> None:
    delta = at - _EPOCH
    assert to_micros(at) == (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    assert from_micros(to_micros(at)) == at


@given(st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC)))  # (strftime pads no year)
def test_timestamp_micros_of_each_precision(at: datetime) -> None:
    whole = at.replace(microsecond=0)
    for text, want in (
        (at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z", at),
        (at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", at.replace(microsecond=at.microsecond // 1000 * 1000)),
        (at.strftime("%Y-%m-%dT%H:%M:%S") + "Z", whole),
        (at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z", at),  # nanoseconds: past the fast path
    ):
        assert timestamp_micros(text) == to_micros(want), text
