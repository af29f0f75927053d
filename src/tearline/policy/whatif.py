"""What-if: replay every version added since a date under a proposed profile, before anyone commits it.

The report compares the proposed profile with the current one over the same rows and time: counts
per verdict before and after, the rows (``seq``) whose verdict changes, and the changed rows broken
down by topic, classification, TLP and month added, each per transition (``RELEASE->WITHHOLD``).
:meth:`WhatIfReport.to_json` is the documented schema of ``docs/policy.md`` (sorted keys, ``seq``
ascending), so two runs over the same data give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tearline.canonical import dumps, format_timestamp, from_micros
from tearline.errors import InvalidInput
from tearline.model.markings import DEFAULT_SCHEME, ClassificationScheme, Tlp
from tearline.model.partners import TrustProfile
from tearline.model.releases import Verdict
from tearline.policy.columns import LabelColumns
from tearline.policy.vector import compute

__all__ = ["NO_TOPIC", "SCHEMA", "WhatIfReport", "whatif"]

SCHEMA = "tearline.whatif/1"
#: The ``by_topic`` key under which changed rows without any topic are counted.
NO_TOPIC = ""

Counts = dict[str, int]
_NAMES = [v.name for v in Verdict]
_TRANSITIONS = [f"{a}->{b}" for a in _NAMES for b in _NAMES]


@dataclass(frozen=True)
class WhatIfReport:
    """What the proposed profile would change; see ``docs/policy.md`` for the JSON schema."""

    partner: str
    at_us: int
    since_us: int | None
    versions: int
    before: Counts
    after: Counts
    changed_seq: tuple[int, ...]
    transitions: Counts
    by_topic: dict[str, Counts]
    by_classification: dict[str, Counts]
    by_tlp: dict[str, Counts]
    by_month: dict[str, Counts]

    def to_dict(self, *, seq_limit: int | None = None) -> dict[str, Any]:
        """The report as JSON-ready values; ``seq_limit`` caps the listed rows (the count stays exact)."""
        seq = self.changed_seq if seq_limit is None else self.changed_seq[:seq_limit]
        return {
            "schema": SCHEMA,
            "partner": self.partner,
            "at": format_timestamp(from_micros(self.at_us)),
            "since": None if self.since_us is None else format_timestamp(from_micros(self.since_us)),
            "versions": self.versions,
            "before": self.before,
            "after": self.after,
            "changed": {
                "count": len(self.changed_seq),
                "transitions": self.transitions,
                "seq": list(seq),
                "seq_truncated": len(seq) < len(self.changed_seq),
            },
            "by_topic": self.by_topic,
            "by_classification": self.by_classification,
            "by_tlp": self.by_tlp,
            "by_month": self.by_month,
        }

    def to_json(self, *, seq_limit: int | None = None) -> str:
        """Deterministic JSON text (sorted keys, compact)."""
        return dumps(self.to_dict(seq_limit=seq_limit)).decode()


def _verdict_counts(v: npt.NDArray[np.uint8]) -> Counts:
    c = np.bincount(v, minlength=len(_NAMES))
    return {name: int(c[i]) for i, name in enumerate(_NAMES)}


def _group(keys: npt.NDArray[np.int64], trans: npt.NDArray[np.int64], name: Any) -> dict[str, Counts]:
    """Counts per (key, transition), keys named by ``name(key)``."""
    out: dict[str, Counts] = {}
    if keys.shape[0] == 0:
        return out
    combined = (keys - keys.min()) * len(_TRANSITIONS) + trans
    uniq, counts = np.unique(combined, return_counts=True)
    base = int(keys.min())
    for u, c in zip(uniq.tolist(), counts.tolist(), strict=True):
        k, t = divmod(u, len(_TRANSITIONS))
        out.setdefault(name(k + base), {})[_TRANSITIONS[t]] = c
    return out


def _by_topic(
    cols: LabelColumns, rows: npt.NDArray[np.intp], trans: npt.NDArray[np.int64]
) -> dict[str, Counts]:
    out: dict[str, Counts] = {}
    if rows.shape[0] == 0:
        return out
    bits = np.ascontiguousarray(cols.topics[rows]).astype("<u8", copy=False)
    hot = np.unpackbits(bits.view(np.uint8), axis=1, bitorder="little")
    none = ~hot.any(axis=1)
    for t in np.unique(trans).tolist():
        sel = trans == t
        counts = hot[sel].sum(axis=0, dtype=np.int64)
        for i in np.flatnonzero(counts).tolist():
            out.setdefault(cols.topic_vocab.name(i), {})[_TRANSITIONS[t]] = int(counts[i])
        untagged = int((none & sel).sum())
        if untagged:
            out.setdefault(NO_TOPIC, {})[_TRANSITIONS[t]] = untagged
    return out


def _class_name(scheme: ClassificationScheme) -> Any:
    def name(level: int) -> str:
        return scheme.names[level] if 0 <= level < len(scheme.names) else str(level)

    return name


def _tlp_name(level: int) -> str:
    try:
        return Tlp(level).text
    except ValueError:
        return str(level)


def _month_name(month: int) -> str:
    return str(np.datetime_as_string(np.datetime64(month, "M")))


def whatif(
    cols: LabelColumns,
    current: TrustProfile,
    proposed: TrustProfile,
    at_us: int,
    *,
    since_us: int | None,
    approved: npt.NDArray[np.bool_] | None = None,
    scheme: ClassificationScheme = DEFAULT_SCHEME,
) -> WhatIfReport:
    """Compare ``proposed`` with ``current`` over the versions added at or after ``since_us`` (None: all)."""
    if current.partner != proposed.partner:
        raise InvalidInput(
            f"the profiles are for different partners `{current.partner}` and `{proposed.partner}`"
        )
    before, _ = compute(cols, current, at_us, approved)
    after, _ = compute(cols, proposed, at_us, approved)
    rows = np.arange(len(cols), dtype=np.intp) if since_us is None else np.flatnonzero(cols.added_us >= since_us)
    b, a = before[rows], after[rows]
    changed = b != a
    ch = rows[changed]
    trans = b[changed].astype(np.int64) * len(_NAMES) + a[changed]
    tr_u, tr_c = np.unique(trans, return_counts=True)
    months = cols.added_us[ch].astype("datetime64[us]").astype("datetime64[M]").astype(np.int64)
    return WhatIfReport(
        partner=current.partner,
        at_us=at_us,
        since_us=since_us,
        versions=int(rows.shape[0]),
        before=_verdict_counts(b),
        after=_verdict_counts(a),
        changed_seq=tuple(sorted(cols.seq[ch].tolist())),
        transitions={_TRANSITIONS[t]: c for t, c in zip(tr_u.tolist(), tr_c.tolist(), strict=True)},
        by_topic=_by_topic(cols, ch, trans),
        by_classification=_group(cols.classification[ch].astype(np.int64), trans, _class_name(scheme)),
        by_tlp=_group(cols.tlp[ch].astype(np.int64), trans, _tlp_name),
        by_month=_group(months, trans, _month_name),
    )
