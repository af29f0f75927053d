"""Partners and their effective-dated trust profiles (never updated in place)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tearline.model.markings import Tlp

_CODE = re.compile(r"^[A-Z][A-Z0-9-]{1,15}$")


def check_code(code: str) -> str:
    """A partner code: ISO 3166 alpha-3 (``USA``) or an organisation code (``NATO``, ``EU-CERT``)."""
    c = code.strip().upper()
    if not _CODE.match(c):
        raise ValueError(
            f"partner code `{code}` must be 2-16 letters, digits or '-', starting with a letter"
        )
    return c


@dataclass(frozen=True)
class TrustProfile:
    """What one partner may receive. ``partner`` is the partner's code."""

    partner: str
    clearance: int = 0
    tlp_ceiling: Tlp = Tlp.GREEN
    excluded_topics: frozenset[str] = field(default_factory=frozenset)
    embargo: timedelta = timedelta(0)
    sanitised_only: bool = False
    suspended: bool = False
    fingerprint: bool = True  # per-recipient fingerprint in every release (docs/trace.md)

    def narrows(self, other: TrustProfile) -> list[str]:
        """The ways ``other`` would widen what this profile allows (empty if it does not)."""
        widen: list[str] = []
        if other.clearance > self.clearance:
            widen.append("clearance")
        if other.tlp_ceiling > self.tlp_ceiling:
            widen.append("tlp-ceiling")
        if not other.excluded_topics >= self.excluded_topics:
            widen.append("exclude-topic")
        if other.embargo < self.embargo:
            widen.append("embargo")
        if self.sanitised_only and not other.sanitised_only:
            widen.append("sanitised-only")
        if self.suspended and not other.suspended:
            widen.append("suspend")
        return widen


@dataclass(frozen=True)
class ProfileVersion:
    """One version of a partner's profile, with who approved it and why."""

    partner: str
    version: int
    profile: TrustProfile
    effective_from: datetime
    created_at: datetime
    reason: str
    approved_by: str


@dataclass(frozen=True)
class Partner:
    code: str
    name: str
    created_at: datetime


def profile_in_force(history: list[ProfileVersion], at: datetime) -> ProfileVersion | None:
    """The version in force at ``at``: of those already effective, the newest version number.

    A version made later but effective earlier supersedes older versions from its effective time;
    a version effective in the future waits until then.
    """
    best: ProfileVersion | None = None
    for pv in history:
        if pv.effective_from <= at and (best is None or pv.version > best.version):
            best = pv
    return best


def next_change(history: list[ProfileVersion], at: datetime) -> datetime | None:
    """When the profile in force next changes after ``at`` (a version effective later), if ever."""
    later = [pv.effective_from for pv in history if pv.effective_from > at]
    return min(later) if later else None
