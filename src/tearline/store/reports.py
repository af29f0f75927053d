"""Read-only queries behind the web UI: flows per day, reciprocity, alerts, ledger search, vault
summaries. Each aggregates in SQL (grouped counts), so a page costs a few indexed scans.

The vault summary selects cover, grade, compartments and per-field row counts only: it never
reads ``vault_fields.sealed`` and imports nothing that could open it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, Text, cast, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from tearline.canonical import from_micros, to_micros
from tearline.store.engine import Database
from tearline.store.rows import MappedRow
from tearline.store.schema import (
    approvals,
    gate_alerts,
    ledger_leaves,
    objects,
    profile_versions,
    releases,
    vault_fields,
    vault_sources,
)

DAY_US = 86_400_000_000
RELEASED = ("RELEASE", "RELEASE_TEARLINE")


@dataclass(frozen=True)
class DayFlow:
    day: date
    released: int  # object versions released to partners that day (first delivery)
    received: int  # object versions received from partners that day


@dataclass(frozen=True)
class Reciprocity:
    partner: str
    received: int
    released: int

    @property
    def balance(self) -> int:
        return self.received - self.released


@dataclass(frozen=True)
class AlertRow:
    at: datetime
    partner: str
    stix_id: str
    version: str
    field: str
    channel: str


@dataclass(frozen=True)
class ApprovalRow:
    id: int
    at: datetime
    partner: str
    stix_id: str
    approved_by: str
    reason: str


@dataclass(frozen=True)
class LeafRow:
    seq: int
    kind: str
    partner: str | None
    at: datetime
    leaf: str
    leaf_hash: str


@dataclass(frozen=True)
class VersionRow:
    seq: int
    stix_id: str
    type: str
    version: str
    date_added: datetime
    label: str
    topics: str
    originator: str | None
    posted_by: str | None
    body: bytes


@dataclass(frozen=True)
class ChangeRow:
    partner: str
    version: int
    created: datetime
    reason: str
    approved_by: str


@dataclass(frozen=True)
class VaultSummary:
    cover: str
    grade: str
    compartments: tuple[str, ...]
    terms: dict[str, int]  # rows per field kind (name, alias, phone, ... term)

    @property
    def total(self) -> int:
        return sum(self.terms.values())


def _days(now: datetime, days: int) -> tuple[int, list[date]]:
    """The start (midnight UTC, ``days - 1`` days before ``now``) and the list of days."""
    first = (now - timedelta(days=days - 1)).date()
    start = datetime(first.year, first.month, first.day, tzinfo=now.tzinfo)
    return to_micros(start), [first + timedelta(days=i) for i in range(days)]


def _from_partner() -> ColumnElement[str]:
    return func.coalesce(objects.c.posted_by, objects.c.originator)


def _released_objects() -> ColumnElement[bool]:
    """Releases of objects (the definitions recorded as they go out with them aside)."""
    return releases.c.verdict.in_(RELEASED) & ~releases.c.stix_id.startswith("marking-definition--")


class Reports:
    def __init__(self, db: Database) -> None:
        self.db = db

    def daily_flows(self, now: datetime, *, days: int = 30, partner: str | None = None) -> list[DayFlow]:
        start, day_list = _days(now, days)
        end = start + days * DAY_US
        rel_day = ((releases.c.first_us - start) // DAY_US).label("d")
        q_rel = select(rel_day, func.count()).where(
            releases.c.first_us >= start, releases.c.first_us < end, _released_objects()
        )
        obj_day = ((objects.c.date_added_us - start) // DAY_US).label("d")
        q_obj = select(obj_day, func.count()).where(
            objects.c.date_added_us >= start, objects.c.date_added_us < end, _from_partner().is_not(None)
        )
        if partner is not None:
            q_rel = q_rel.where(releases.c.partner == partner)
            q_obj = q_obj.where(_from_partner() == partner)
        with self.db.read() as conn:
            out_by = {int(d): int(n) for d, n in conn.execute(q_rel.group_by(rel_day))}
            in_by = {int(d): int(n) for d, n in conn.execute(q_obj.group_by(obj_day))}
        return [DayFlow(d, out_by.get(i, 0), in_by.get(i, 0)) for i, d in enumerate(day_list)]

    def reciprocity(self, since: datetime | None = None) -> list[Reciprocity]:
        """Per partner: object versions received from it (posted by it or originated by it) and
        object versions released to it, sorted by partner code."""
        q_in = select(_from_partner().label("p"), func.count()).where(_from_partner().is_not(None))
        q_out = select(releases.c.partner, func.count()).where(_released_objects())
        if since is not None:
            q_in = q_in.where(objects.c.date_added_us >= to_micros(since))
            q_out = q_out.where(releases.c.first_us >= to_micros(since))
        with self.db.read() as conn:
            got = {p: int(n) for p, n in conn.execute(q_in.group_by(_from_partner()))}
            sent = {p: int(n) for p, n in conn.execute(q_out.group_by(releases.c.partner))}
        return [Reciprocity(p, got.get(p, 0), sent.get(p, 0)) for p in sorted(set(got) | set(sent))]

    def active_approvals(self, limit: int = 20) -> list[ApprovalRow]:
        q = (
            select(approvals)
            .where(approvals.c.revoked_us.is_(None))
            .order_by(approvals.c.id.desc())
            .limit(limit)
        )
        with self.db.read() as conn:
            return [
                ApprovalRow(r.id, from_micros(r.created_us), r.partner, r.stix_id, r.approved_by, r.reason)
                for r in conn.execute(q)
            ]

    def recent_alerts(self, limit: int = 20) -> list[AlertRow]:
        q = select(gate_alerts).order_by(gate_alerts.c.id.desc()).limit(limit)
        with self.db.read() as conn:
            return [
                AlertRow(from_micros(r.at_us), r.partner, r.stix_id, r.version, r.field, r.channel)
                for r in conn.execute(q)
            ]

    def recent_changes(self, limit: int = 10) -> list[ChangeRow]:
        pv = profile_versions.c
        q = select(pv.partner, pv.version, pv.created_us, pv.reason, pv.approved_by)
        q = q.order_by(pv.created_us.desc(), pv.partner).limit(limit)
        with self.db.read() as conn:
            return [ChangeRow(r.partner, r.version, from_micros(r.created_us), r.reason, r.approved_by)
                    for r in conn.execute(q)]

    def recent_objects(self, limit: int = 15) -> list[VersionRow]:
        q = select(objects).order_by(objects.c.date_added_us.desc(), objects.c.seq.desc()).limit(limit)
        with self.db.read() as conn:
            return [_version(r) for r in conn.execute(q)]

    def versions(self, stix_id: str) -> list[VersionRow]:
        """Every stored version of an object, oldest first."""
        q = select(objects).where(objects.c.stix_id == stix_id).order_by(objects.c.version_us, objects.c.seq)
        with self.db.read() as conn:
            return [_version(r) for r in conn.execute(q)]

    def ledger_search(
        self, *, partner: str | None = None, stix_id: str | None = None, before: int | None = None, limit: int = 50
    ) -> list[LeafRow]:
        """Ledger entries, newest first, about a partner and/or an object (keyset on ``seq``)."""
        q = select(ledger_leaves)
        if partner:
            q = q.where(ledger_leaves.c.partner == partner)
        if before is not None:
            q = q.where(ledger_leaves.c.seq < before)
        with self.db.read() as conn:
            if stix_id:
                q = q.where(_leaf_text(conn).like(_like_field("object", stix_id), escape="\\"))
            rows = list(conn.execute(q.order_by(ledger_leaves.c.seq.desc()).limit(limit)))
        return [
            LeafRow(int(r.seq), r.kind, r.partner, from_micros(r.at_us), bytes(r.leaf).decode("utf-8"),
                    bytes(r.leaf_hash).hex())
            for r in rows
        ]

    def leaves(self, start: int, end: int) -> list[LeafRow]:
        """Ledger leaves ``start <= seq < end`` in full (operators see every entry), seq order."""
        q = select(ledger_leaves).where(ledger_leaves.c.seq >= start, ledger_leaves.c.seq < end)
        with self.db.read() as conn:
            rows = list(conn.execute(q.order_by(ledger_leaves.c.seq)))
        return [
            LeafRow(int(r.seq), r.kind, r.partner, from_micros(r.at_us), bytes(r.leaf).decode("utf-8"),
                    bytes(r.leaf_hash).hex())
            for r in rows
        ]

    def vault_summaries(self) -> list[VaultSummary]:
        """Sources by cover name: grade, compartments and how many rows of each field kind."""
        vs, vf = vault_sources.c, vault_fields.c
        q_src = select(vs.id, vs.cover, vs.reliability, vs.credibility, vs.compartments).order_by(vs.cover)
        q_cnt = select(vf.source_id, vf.field, func.count()).group_by(vf.source_id, vf.field)
        with self.db.read() as conn:
            sources = list(conn.execute(q_src))
            counts: dict[str, dict[str, int]] = {}
            for sid, field, n in conn.execute(q_cnt):
                counts.setdefault(sid, {})[field] = int(n)
        return [
            VaultSummary(
                cover=s.cover,
                grade=f"{s.reliability}{s.credibility}",
                compartments=tuple(c for c in s.compartments.split(",") if c),
                terms=dict(sorted(counts.get(s.id, {}).items())),
            )
            for s in sources
        ]


def _version(r: MappedRow) -> VersionRow:
    m = r._mapping
    return VersionRow(
        seq=int(m["seq"]), stix_id=m["stix_id"], type=m["type"], version=m["version"],
        date_added=from_micros(int(m["date_added_us"])), label=m["label"], topics=m["topics"],
        originator=m["originator"], posted_by=m["posted_by"], body=bytes(m["body"]),
    )


def _leaf_text(conn: Connection) -> ColumnElement[str]:
    if conn.dialect.name == "postgresql":
        return func.convert_from(ledger_leaves.c.leaf, literal("UTF8"))
    return cast(ledger_leaves.c.leaf, Text)


def _like_field(name: str, value: str) -> str:
    """A LIKE pattern for ``"name":"value"`` in canonical JSON (wildcards in ``value`` escaped)."""
    v = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace('"', "")
    return f'%"{name}":"{v}"%'
