"""An injectable clock, so tests and replays never patch globals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to (tests, demos, replays)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a fixed clock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at = self._at + delta

    def set(self, at: datetime) -> None:
        self._at = at


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``7d``, ``2w``, combinations like ``1d12h``, or ``0``."""
    import re

    t = text.strip().lower()
    if t in ("0", "none", ""):
        return timedelta(0)
    parts = re.findall(r"(\d+)\s*([smhdw])", t)
    if not parts or re.sub(r"(\d+)\s*([smhdw])", "", t).strip():
        raise ValueError(f"bad duration `{text}` (use e.g. `12h`, `7d`, `1d12h`)")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))


def format_duration(delta: timedelta) -> str:
    secs = int(delta.total_seconds())
    if secs == 0:
        return "0"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if secs >= size:
            out.append(f"{secs // size}{unit}")
            secs %= size
    return "".join(out)


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 date or time (UTC assumed when no offset), or ``now``."""
    t = text.strip()
    if t.lower() == "now":
        return now if now is not None else datetime.now(UTC)
    try:
        at = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"bad time `{text}` (use ISO 8601, e.g. `2026-01-31` or `2026-01-31T12:00Z`)") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)
