"""What-if: counts, changed rows and breakdowns equal a replay with the scalar decide."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import policy_items, profiles

from tearline.canonical import format_timestamp, to_micros
from tearline.errors import InvalidInput
from tearline.model.markings import DEFAULT_SCHEME, Label, MarkedItem, Tlp
from tearline.model.partners import TrustProfile
from tearline.policy.columns import ColumnsBuilder
from tearline.policy.decide import decide
from tearline.policy.whatif import NO_TOPIC, SCHEMA, whatif

AT = datetime(2026, 11, 29, tzinfo=UTC)
MONTHS = [datetime(2026, m, d, tzinfo=UTC) for m, d in ((1, 31), (2, 1), (9, 15), (11, 28))]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(policy_items(), st.sampled_from(MONTHS), st.booleans()), max_size=15),
    profiles(partner="GBR"),
    profiles(partner="GBR"),
    st.sampled_from([None, *MONTHS]),
)
def test_whatif_equals_a_replay_with_decide(
    rows: list[tuple[MarkedItem, datetime, bool]],
    current: TrustProfile,
    proposed: TrustProfile,
    since: datetime | None,
) -> None:
    b = ColumnsBuilder()
    for i, (item, added, _) in enumerate(rows):
        b.append(1000 - i, item, to_micros(added))  # seq not in row order: the report sorts them
    approved = np.array([a for _, _, a in rows], dtype=np.bool_)
    since_us = None if since is None else to_micros(since)
    report = whatif(b.build(), current, proposed, to_micros(AT), since_us=since_us, approved=approved)

    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    changed: list[int] = []
    by: dict[str, Counter[tuple[str, str]]] = {k: Counter() for k in ("topic", "class", "tlp", "month")}
    for i, (item, added, ok) in enumerate(rows):
        if since is not None and added < since:
            continue
        v0 = decide(item, current, AT, added=added, approved=ok).verdict
        v1 = decide(item, proposed, AT, added=added, approved=ok).verdict
        before[v0.name] += 1
        after[v1.name] += 1
        if v0 != v1:
            changed.append(1000 - i)
            t = f"{v0.name}->{v1.name}"
            for topic in item.label.topics or {NO_TOPIC}:
                by["topic"][topic, t] += 1
            by["class"][DEFAULT_SCHEME.name(item.label.classification), t] += 1
            by["tlp"][item.label.tlp.text, t] += 1
            by["month"][added.strftime("%Y-%m"), t] += 1

    def nested(c: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (k, t), n in c.items():
            out.setdefault(k, {})[t] = n
        return out

    names = ["RELEASE", "RELEASE_TEARLINE", "HOLD", "WITHHOLD"]
    assert report.versions == sum(before.values())
    assert report.before == {n: before[n] for n in names}
    assert report.after == {n: after[n] for n in names}
    assert report.changed_seq == tuple(sorted(changed))
    assert sum(report.transitions.values()) == len(changed)
    assert report.by_topic == nested(by["topic"])
    assert report.by_classification == nested(by["class"])
    assert report.by_tlp == nested(by["tlp"])
    assert report.by_month == nested(by["month"])


def test_report_json_is_deterministic_and_documented() -> None:
    b = ColumnsBuilder()
    labels = [
        Label(tlp=Tlp.GREEN, topics=frozenset({"russia", "ransomware"})),
        Label(tlp=Tlp.AMBER, classification=2),
        Label(tlp=Tlp.GREEN),
        Label(tlp=Tlp.CLEAR, topics=frozenset({"china"})),
    ]
    for i, label in enumerate(labels):
        b.append(10 + i, MarkedItem(label), to_micros(MONTHS[i]))
    current = TrustProfile("GBR", clearance=2, tlp_ceiling=Tlp.AMBER)
    proposed = replace(current, clearance=1, excluded_topics=frozenset({"russia"}), sanitised_only=True)
    report = whatif(b.build(), current, proposed, to_micros(AT), since_us=to_micros(MONTHS[0]))
    text = report.to_json()
    assert text == report.to_json()
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data == {
        "schema": SCHEMA,
        "partner": "GBR",
        "at": format_timestamp(AT),
        "since": "2026-01-31T00:00:00.000000Z",
        "versions": 4,
        "before": {"RELEASE": 4, "RELEASE_TEARLINE": 0, "HOLD": 0, "WITHHOLD": 0},
        "after": {"RELEASE": 0, "RELEASE_TEARLINE": 2, "HOLD": 0, "WITHHOLD": 2},
        "changed": {
            "count": 4,
            "transitions": {"RELEASE->RELEASE_TEARLINE": 2, "RELEASE->WITHHOLD": 2},
            "seq": [10, 11, 12, 13],
            "seq_truncated": False,
        },
        "by_topic": {
            "russia": {"RELEASE->WITHHOLD": 1},
            "ransomware": {"RELEASE->WITHHOLD": 1},
            "china": {"RELEASE->RELEASE_TEARLINE": 1},
            NO_TOPIC: {"RELEASE->WITHHOLD": 1, "RELEASE->RELEASE_TEARLINE": 1},
        },
        "by_classification": {
            "UNCLASSIFIED": {"RELEASE->WITHHOLD": 1, "RELEASE->RELEASE_TEARLINE": 2},
            "CONFIDENTIAL": {"RELEASE->WITHHOLD": 1},
        },
        "by_tlp": {
            "CLEAR": {"RELEASE->RELEASE_TEARLINE": 1},
            "GREEN": {"RELEASE->WITHHOLD": 1, "RELEASE->RELEASE_TEARLINE": 1},
            "AMBER": {"RELEASE->WITHHOLD": 1},
        },
        "by_month": {
            "2026-01": {"RELEASE->WITHHOLD": 1},
            "2026-02": {"RELEASE->WITHHOLD": 1},
            "2026-09": {"RELEASE->RELEASE_TEARLINE": 1},
            "2026-11": {"RELEASE->RELEASE_TEARLINE": 1},
        },
    }
    capped = json.loads(report.to_json(seq_limit=1))["changed"]
    assert capped["seq"] == [10] and capped["seq_truncated"] is True and capped["count"] == 4
    later = whatif(b.build(), current, proposed, to_micros(AT), since_us=to_micros(MONTHS[2]))
    assert later.versions == 2 and later.changed_seq == (12, 13)


def test_profiles_of_different_partners_are_refused() -> None:
    cols = ColumnsBuilder().build()
    with pytest.raises(InvalidInput, match="different partners `GBR` and `USA`"):
        whatif(cols, TrustProfile("GBR"), TrustProfile("USA"), 0, since_us=None)


def test_nothing_changes_when_the_profile_is_the_same() -> None:
    b = ColumnsBuilder()
    for i in range(5):
        b.append(i, MarkedItem(Label(tlp=Tlp(i))), to_micros(AT - timedelta(days=i)))
    p = TrustProfile("GBR", tlp_ceiling=Tlp.AMBER)
    report = whatif(b.build(), p, p, to_micros(AT), since_us=None)
    assert report.changed_seq == () and report.transitions == {} and report.by_topic == {}
    assert report.before == report.after == {"RELEASE": 3, "RELEASE_TEARLINE": 0, "HOLD": 0, "WITHHOLD": 2}
