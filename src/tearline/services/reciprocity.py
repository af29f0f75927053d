"""Reciprocity: per partner, what it sent this node (posted to its inbox or pulled from its node)
and what this node released to it (the releases table), by topic and month, with the balance.

Counts are object versions. A version with several topics counts once under each of them (and once
in the totals); one without a topic counts under ``(none)``. Released versions are counted once
each whatever the number of deliveries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tearline.canonical import from_micros, to_micros
from tearline.store import sync as store
from tearline.store.engine import Database

NO_TOPIC = "(none)"


@dataclass
class PartnerFlow:
    partner: str
    received: int = 0
    released: int = 0
    by_topic: dict[str, list[int]] = field(default_factory=dict)  # topic -> [received, released]
    by_month: dict[str, list[int]] = field(default_factory=dict)  # YYYY-MM -> [received, released]

    @property
    def balance(self) -> int:
        return self.received - self.released

    def to_json(self) -> dict[str, Any]:
        def rows(d: dict[str, list[int]], key: str) -> list[dict[str, Any]]:
            return [{key: k, "received": v[0], "released": v[1], "balance": v[0] - v[1]} for k, v in sorted(d.items())]

        return {"partner": self.partner, "received": self.received, "released": self.released,
                "balance": self.balance, "by_topic": rows(self.by_topic, "topic"),
                "by_month": rows(self.by_month, "month")}


def _month(us: int) -> str:
    return from_micros(us).strftime("%Y-%m")


def _topics(text: str) -> list[str]:
    return [t for t in text.split(",") if t] or [NO_TOPIC]


def reciprocity(db: Database, *, since: datetime | None = None) -> list[PartnerFlow]:
    since_us = None if since is None else to_micros(since)
    flows: dict[str, PartnerFlow] = {}

    def flow(code: str) -> PartnerFlow:
        return flows.setdefault(code, PartnerFlow(code))

    def bump(f: PartnerFlow, topics: str, month: str, col: int) -> None:
        for t in _topics(topics):
            f.by_topic.setdefault(t, [0, 0])[col] += 1
        f.by_month.setdefault(month, [0, 0])[col] += 1

    with db.read() as conn:
        from tearline.store import partners as partners_store

        for p in partners_store.list_partners(conn):
            flow(p.code)
        for code, added, topics in store.received_rows(conn, since_us):
            f = flow(code)
            f.received += 1
            bump(f, topics, _month(added), 0)
        released: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
        for code, first, sid, ver in store.released_rows(conn, since_us):
            seen = released[code]
            seen[(sid, ver)] = min(first, seen.get((sid, ver), first))
        keys = {k for seen in released.values() for k in seen}
        topic_of = store.topics_of(conn, keys)
    for code, seen in released.items():
        f = flow(code)
        for key, first in seen.items():
            f.released += 1
            bump(f, topic_of.get(key, ""), _month(first), 1)
    return [flows[k] for k in sorted(flows)]
