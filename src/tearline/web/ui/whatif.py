"""The what-if form (the options of ``tearline whatif``) and what the partner page shows of a report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from tearline.clock import format_duration, parse_duration, parse_time
from tearline.errors import InvalidInput
from tearline.model.markings import ClassificationScheme
from tearline.model.partners import ProfileVersion, TrustProfile
from tearline.policy.whatif import NO_TOPIC, WhatIfReport
from tearline.services.trust import ProfileChange
from tearline.web.ui import charts

VERDICTS = ("RELEASE", "RELEASE_TEARLINE", "HOLD", "WITHHOLD")
TLPS = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")


@dataclass(frozen=True)
class WhatIfForm:
    clearance: str = ""
    tlp_ceiling: str = ""
    exclude_topics: str = ""
    embargo: str = ""
    sanitised_only: bool = False
    suspend: bool = False
    since: str = ""

    @classmethod
    def read(cls, values: Mapping[str, Any]) -> WhatIfForm:
        def text(k: str) -> str:
            v = values.get(k)
            return v.strip() if isinstance(v, str) else ""

        return cls(
            clearance=text("clearance"),
            tlp_ceiling=text("tlp_ceiling"),
            exclude_topics=text("exclude_topics"),
            embargo=text("embargo"),
            sanitised_only=text("sanitised_only") in ("1", "on", "yes", "true"),
            suspend=text("suspend") in ("1", "on", "yes", "true"),
            since=text("since"),
        )

    @property
    def asked(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self) if f.name != "since")

    def topics(self) -> tuple[str, ...]:
        return tuple(sorted({t.strip().lower() for t in self.exclude_topics.split(",") if t.strip()}))

    def change(self) -> ProfileChange:
        try:
            embargo = parse_duration(self.embargo) if self.embargo else None
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        return ProfileChange(
            clearance=self.clearance or None,
            tlp_ceiling=self.tlp_ceiling or None,
            exclude_topics=self.topics(),
            embargo=embargo,
            sanitised_only=True if self.sanitised_only else None,
            suspended=True if self.suspend else None,
        )

    def since_time(self) -> datetime | None:
        if not self.since:
            return None
        try:
            return parse_time(self.since)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None

    def fields(self) -> dict[str, str]:
        """The form as hidden fields / query parameters (checkboxes as ``1``)."""
        out: dict[str, str] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v:
                out[f.name] = "1" if v is True else str(v)
        return out

    def query(self) -> str:
        return urlencode(self.fields())


def profile_text(p: TrustProfile, scheme: ClassificationScheme) -> dict[str, str]:
    return {
        "clearance": scheme.name(p.clearance) if 0 <= p.clearance < len(scheme.names) else str(p.clearance),
        "tlp": p.tlp_ceiling.text,
        "excluded": ", ".join(sorted(p.excluded_topics)) or "none",
        "embargo": format_duration(p.embargo) if p.embargo.total_seconds() else "none",
        "flags": ", ".join(f for f, on in (("sanitised only", p.sanitised_only), ("suspended", p.suspended)) if on)
        or "none",
    }


def changes(prev: TrustProfile | None, cur: TrustProfile, scheme: ClassificationScheme) -> list[str]:
    """What a profile version changed from the one before, in words."""
    if prev is None:
        return ["first version"]
    a, b = profile_text(prev, scheme), profile_text(cur, scheme)
    out = [f"{k}: {a[k]} → {b[k]}" for k in ("clearance", "tlp", "embargo", "flags") if a[k] != b[k]]
    added = sorted(cur.excluded_topics - prev.excluded_topics)
    dropped = sorted(prev.excluded_topics - cur.excluded_topics)
    out += [f"excludes {t}" for t in added] + [f"no longer excludes {t}" for t in dropped]
    return out or ["no change in the profile (a new effective date)"]


@dataclass(frozen=True)
class TimelineEntry:
    version: ProfileVersion
    text: dict[str, str]
    changes: list[str]
    in_force: bool


def timeline(history: list[ProfileVersion], in_force: int | None, scheme: ClassificationScheme) -> list[TimelineEntry]:
    out: list[TimelineEntry] = []
    prev: TrustProfile | None = None
    for pv in sorted(history, key=lambda v: v.version):
        out.append(TimelineEntry(pv, profile_text(pv.profile, scheme), changes(prev, pv.profile, scheme),
                                 pv.version == in_force))
        prev = pv.profile
    return out[::-1]


def _changed_total(groups: dict[str, dict[str, int]]) -> list[tuple[str, int]]:
    return [(k or "(no topic)", sum(v.values())) for k, v in groups.items()]


@dataclass(frozen=True)
class WhatIfView:
    report: WhatIfReport
    rows: list[tuple[str, int, int]]  # verdict, before, after
    changed: int
    transitions: list[tuple[str, int]]
    verdict_chart: Markup
    topic_chart: Markup
    month_chart: Markup
    by_topic: list[tuple[str, int]]
    by_month: list[tuple[str, int]]
    by_classification: list[tuple[str, int]]


def whatif_view(report: WhatIfReport) -> WhatIfView:
    rows = [(v, report.before.get(v, 0), report.after.get(v, 0)) for v in VERDICTS]
    by_topic = sorted(_changed_total(report.by_topic), key=lambda kv: (-kv[1], kv[0]))
    by_month = sorted((k, sum(v.values())) for k, v in report.by_month.items())
    by_class = sorted(_changed_total(report.by_classification), key=lambda kv: (-kv[1], kv[0]))
    verdict_chart = charts.bars(
        [v.replace("RELEASE_TEARLINE", "TEARLINE") for v in VERDICTS],
        [("now", [r[1] for r in rows]), ("proposed", [r[2] for r in rows])],
        title=f"verdicts now and under the proposed profile ({report.versions} versions)",
        height=200,
    )
    topic_chart = charts.hbars(by_topic, title="versions that change verdict, by topic")
    month_chart = charts.bars(
        [m for m, _ in by_month],
        [("versions that change", [n for _, n in by_month])],
        title="versions that change verdict, by month added",
        label_every=max(1, len(by_month) // 8),
    )
    return WhatIfView(
        report=report,
        rows=rows,
        changed=len(report.changed_seq),
        transitions=sorted(report.transitions.items()),
        verdict_chart=verdict_chart,
        topic_chart=topic_chart,
        month_chart=month_chart,
        by_topic=by_topic,
        by_month=by_month,
        by_classification=by_class,
    )


__all__ = ["NO_TOPIC", "TLPS", "VERDICTS", "WhatIfForm", "WhatIfView", "timeline", "whatif_view"]
