"""Canonical JSON and timestamps.

Two canonical forms, chosen for their jobs:

* :func:`dumps` (orjson, sorted keys, compact): the stored form of a STIX object and the form that
  leaves the node. Deterministic for a given object, and fast enough to serialise on every release.
* :func:`jcs` (RFC 8785 via the ``rfc8785`` package): ledger leaves, which third parties recompute
  with their own JCS implementation, so they must be the standard form to the byte.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import rfc8785

_OPTS = orjson.OPT_SORT_KEYS


def dumps(value: Any) -> bytes:
    """Deterministic compact JSON bytes with sorted keys, in an allocation of their own size.

    orjson (3.12 and later) reserves its output buffer generously (4 KiB at least, several times
    the output for strings) and never gives the rest back: the ``bytes`` it returns reports its
    length but keeps the whole reservation (seven times the length on ATT&CK objects, measured with
    tracemalloc; ``sys.getsizeof`` does not show it). Released bodies are kept in byte-bounded
    caches per worker, which counted their length and so held about seven times their bound. The
    copy costs a ``memcpy`` of the output, far less than making it.
    """
    return bytes(memoryview(orjson.dumps(value, option=_OPTS)))


def dumps_ordered(value: Any) -> bytes:
    """Compact JSON bytes with keys in the order the mapping holds them (a fingerprinted object's
    property order is one of its choices); otherwise as :func:`dumps`."""
    return bytes(memoryview(orjson.dumps(value)))


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def jcs(value: Any) -> bytes:
    """RFC 8785 canonical JSON."""
    return rfc8785.dumps(value)


_TS = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?Z$"
)


def parse_timestamp(text: str) -> datetime:
    """Parse a STIX timestamp (RFC 3339, UTC, ``Z`` suffix); raise ``ValueError`` otherwise."""
    m = _TS.match(text)
    if not m:
        raise ValueError(f"`{text}` is not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z)")
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac = m.group(7)
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    return datetime(y, mo, d, h, mi, s, micro, tzinfo=UTC)


def timestamp_micros(text: str) -> int:
    """Microseconds since the epoch of a STIX timestamp; the fast path for already validated text."""
    if len(text) in (20, 24, 27) and text[-1] == "Z":  # no fraction, milliseconds, microseconds
        try:
            return (datetime.fromisoformat(text) - _EPOCH) // _MICROSECOND  # aware: the Z is UTC
        except ValueError:
            pass
    return to_micros(parse_timestamp(text))


def format_timestamp(at: datetime) -> str:
    """STIX/TAXII timestamp with microseconds: ``2024-01-02T03:04:05.678901Z``."""
    if at.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    u = at.astimezone(UTC)
    return f"{u.year:04d}-{u.strftime('%m-%dT%H:%M:%S.%f')}Z"


def to_micros(at: datetime) -> int:
    """Microseconds since the Unix epoch (the stored, indexed form of a time)."""
    if at.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return (at - _EPOCH) // _MICROSECOND  # aware arithmetic: any offset is accounted for


def from_micros(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
