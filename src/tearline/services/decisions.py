"""Materialised decisions: what each partner may receive, computed ahead of serving.

The label columns of every stored version are kept in memory (loaded once, then extended by
``seq`` watermark) and the vectorised policy computes a partner's verdicts over all of them in
milliseconds. What is persisted per partner is a verdict byte per ``seq`` (see
:mod:`tearline.store.decisions`), computed *without* the embargo: the embargo is a date bound that
serving applies (``date_added + embargo <= now``), so a stored decision never goes stale by the
passing of time. It goes stale only when a profile version takes effect (checked on every read,
so a version that becomes effective later applies without a restart), an approval changes, or new
versions arrive (computed in the ingest transaction).

Change detection: every change made here (and every other change that can alter what a partner is
served) bumps the node-wide change epoch (:func:`tearline.store.nodes.bump_epoch`) in its own
transaction. :meth:`Decisions.stamp` answers "has anything this partner sees changed?" from one
primary-key read of that epoch plus the time of the partner's next time-based change (a profile
version effective later, the next embargoed version to become releasable), so serving can keep
whole answers and :meth:`Decisions.view` can skip its queries while the epoch stands still.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, select

from tearline.canonical import loads, to_micros
from tearline.clock import Clock
from tearline.errors import NoProfile
from tearline.model.labeltext import parse_label
from tearline.model.markings import Label, MarkedItem, Portion, Tlp
from tearline.model.partners import ProfileVersion, TrustProfile, next_change, profile_in_force
from tearline.model.releases import Verdict
from tearline.policy.columns import ColumnsBuilder, LabelColumns
from tearline.policy.vector import compute
from tearline.services.intake import Stored
from tearline.store import approvals as approvals_store
from tearline.store import decisions as store
from tearline.store import nodes as nodes_store
from tearline.store import objects as objects_store
from tearline.store import partners as partners_store
from tearline.store.engine import Database
from tearline.store.schema import objects

RELEASED = (int(Verdict.RELEASE), int(Verdict.RELEASE_TEARLINE))
_EXTEND_BATCH = 10_000  # rows read into the label columns at a time


def _split(text: str | None) -> frozenset[str]:
    return frozenset(t for t in (text or "").split(",") if t)


def item_from_row(row: Any) -> MarkedItem:
    """The label (and portion labels) of a stored version, from its label columns."""
    r = row._mapping if hasattr(row, "_mapping") else row
    label = Label(
        classification=int(r["classification"]),
        tlp=Tlp(int(r["tlp"])),
        rel_to=_split(r["rel_to"]),
        noforn=bool(r["noforn"]),
        orcon=bool(r["orcon"]),
        topics=_split(r["topics"]),
        source_refs=_split(r["source_refs"]),
        originator=r["originator"],
        further_sharing=None if r["further_sharing"] is None else _split(r["further_sharing"]),
    )
    portions: tuple[Portion, ...] = ()
    if r["portions"]:
        portions = tuple(Portion(selector=s, label=parse_label(t)) for s, t in loads(r["portions"]))
    return MarkedItem(label=label, portions=portions)


@dataclass(frozen=True)
class PartnerView:
    """What serving needs to answer "may this partner receive seq N now?"."""

    partner: str
    profile: ProfileVersion
    verdicts: npt.NDArray[np.uint8]
    generation: int
    embargo_cutoff_us: int | None  # released only if date_added_us <= this (None: no embargo)

    def released(self, seq: int, date_added_us: int) -> bool:
        if seq >= len(self.verdicts) or int(self.verdicts[seq]) not in RELEASED:
            return False
        return self.embargo_cutoff_us is None or date_added_us <= self.embargo_cutoff_us

    def verdict(self, seq: int) -> int:
        return int(self.verdicts[seq]) if seq < len(self.verdicts) else store.UNKNOWN


@dataclass(frozen=True)
class Stamp:
    """What a partner is served is unchanged while the epoch is and ``now < expires_us``."""

    epoch: int
    at_us: int  # when the stamp was taken
    expires_us: int | None  # the partner's next time-based change (None: none pending)

    def holds(self, epoch: int, now_us: int) -> bool:
        return (
            epoch == self.epoch
            and now_us >= self.at_us
            and (self.expires_us is None or now_us < self.expires_us)
        )


class Decisions:
    """Keeps the label columns and every partner's materialised decisions up to date."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._lock = threading.RLock()
        self._builder = ColumnsBuilder()
        self._cols: LabelColumns | None = None
        self._stix_ids: list[str] = []
        self._rows_by_id: dict[str, list[int]] = {}
        self._watermark = 0
        self._views: dict[str, tuple[int, PartnerView]] = {}  # partner -> (epoch, view)
        self._histories: dict[str, tuple[int, list[ProfileVersion]]] = {}  # partner -> (epoch, history)
        self._added: tuple[int, npt.NDArray[np.int64]] | None = None  # (epoch, sorted date_added_us)
        self._probe = nodes_store.EpochProbe(db)

    # -- label columns ----------------------------------------------------------------------
    def columns(self, conn: Connection | None = None) -> tuple[LabelColumns, list[str]]:
        """Label columns of every committed version (row order = seq order) and their STIX ids."""
        with self._lock:
            if conn is None:
                with self.db.read() as c:
                    self._extend(c)
            else:
                self._extend(conn)
            if self._cols is None or len(self._cols) != len(self._builder):
                self._cols = self._builder.build()
            return self._cols, self._stix_ids

    def _extend(self, conn: Connection) -> None:
        """Append the label columns of the versions past the watermark, in bounded batches (a row's
        label is built once per distinct set of label columns: stored labels repeat)."""
        known: dict[tuple[Any, ...], MarkedItem] = {}
        batch: list[Any] = []
        for row in objects_store.label_rows(conn, self._watermark):
            batch.append(row)
            if len(batch) >= _EXTEND_BATCH:
                self._append_rows(batch, known)
                batch = []
        if batch:
            self._append_rows(batch, known)

    def _append_rows(self, rows: Sequence[Any], known: dict[tuple[Any, ...], MarkedItem]) -> None:
        items: list[MarkedItem] = []
        for row in rows:
            key = tuple(row)[objects_store.LABEL_PART]
            item = known.get(key)
            if item is None:
                item = known[key] = item_from_row(row)
            items.append(item)
        self._builder.extend([int(r.seq) for r in rows], items, [int(r.date_added_us) for r in rows])
        for row in rows:
            self._rows_by_id.setdefault(row.stix_id, []).append(len(self._stix_ids))
            self._stix_ids.append(row.stix_id)
        self._watermark = int(rows[-1].seq)

    # -- computing ------------------------------------------------------------------------
    @staticmethod
    def materialised_profile(profile: TrustProfile) -> TrustProfile:
        """The profile decisions are stored under: the embargo is applied at serving time."""
        return replace(profile, embargo=timedelta(0))

    def _approved_mask(self, cols: LabelColumns, ids: list[str], approved: set[str]) -> npt.NDArray[np.bool_] | None:
        if not approved:
            return None
        return np.fromiter((i in approved for i in ids), dtype=np.bool_, count=len(ids))

    def recompute(self, conn: Connection, partner: str, *, at: datetime | None = None) -> int:
        """Recompute and persist one partner's decisions over every version; returns the generation."""
        at = at or self.clock.now()
        history = partners_store.history(conn, partner)
        pv = profile_in_force(history, at)
        cols, ids = self.columns(conn)
        if pv is None:
            verdicts = np.full(len(cols), Verdict.WITHHOLD, dtype=np.uint8)
            version = 0
        else:
            approved = self._approved_mask(cols, ids, approvals_store.approved_ids(conn, partner))
            verdicts, _ = compute(cols, self.materialised_profile(pv.profile), to_micros(at), approved)
            version = pv.version
        top = int(cols.seq[-1]) if len(cols) else 0
        by_seq = np.full(top + 1, store.UNKNOWN, dtype=np.uint8)
        by_seq[cols.seq] = verdicts
        gen = store.save(
            conn, partner, by_seq, profile_version=version, computed_us=to_micros(at), watermark_seq=top
        )
        nodes_store.bump_epoch(conn)
        with self._lock:
            self._views.pop(partner, None)
        return gen

    def recompute_all(self, conn: Connection, *, at: datetime | None = None) -> None:
        for p in partners_store.list_partners(conn):
            self.recompute(conn, p.code, at=at)

    def on_stored(self, conn: Connection, stored: Stored) -> None:
        """Ingest hook (inside the ingest transaction): decide the new versions for every partner.

        Partners whose stored decisions are current get the new verdicts written into the chunks
        the new seqs fall in; the others are stale already and are recomputed over every committed
        row on their next read. A fixed number of statements whatever the number of partners.
        """
        if not stored.seqs:
            return
        nodes_store.bump_epoch(conn)
        builder = ColumnsBuilder()
        builder.extend(stored.seqs, stored.items, stored.added_us)
        ids = stored.stix_ids
        cols = builder.build()
        at = self.clock.now()
        at_us = to_micros(at)
        chunk0 = int(cols.seq.min()) // store.CHUNK
        base = chunk0 * store.CHUNK
        top_seq = int(cols.seq.max())
        histories: dict[str, list[ProfileVersion]] = {}
        for version in partners_store.all_versions(conn):
            histories.setdefault(version.partner, []).append(version)
        infos = store.all_info(conn)
        current: list[tuple[str, ProfileVersion, store.DecisionSetInfo]] = []
        for code in sorted(histories):
            pv = profile_in_force(histories[code], at)
            info = infos.get(code)
            if pv is not None and info is not None and info.profile_version == pv.version:
                current.append((code, pv, info))
        if current:
            approvals = approvals_store.active_by_partner(conn)
            existing = store.load_chunks(conn, [c for c, _, _ in current], range(chunk0, top_seq // store.CHUNK + 1))
            writes = []
            for code, pv, info in current:
                approved = self._approved_mask(cols, ids, approvals.get(code, set()))
                verdicts, _ = compute(cols, self.materialised_profile(pv.profile), at_us, approved)
                parts = existing[code]
                end = max([top_seq + 1] + [c * store.CHUNK + len(a) for c, a in parts.items()])
                arr = np.full(end - base, store.UNKNOWN, dtype=np.uint8)
                for c, a in parts.items():
                    arr[c * store.CHUNK - base : c * store.CHUNK - base + len(a)] = a
                arr[cols.seq - base] = verdicts
                writes.append(
                    store.ChunkWrite(code, chunk0, arr, pv.version, at_us, max(info.watermark_seq, end - 1))
                )
            store.write_chunks(conn, writes)
        with self._lock:
            self._views.clear()

    def on_profile(self, conn: Connection, partner: str) -> None:
        """Profile hook: a new version in force now is applied at once; a later one on first read."""
        self.recompute(conn, partner)

    # -- change detection -----------------------------------------------------------------
    def epoch(self) -> int:
        """The node's change epoch (one primary-key read, a bare statement: ~12 µs on SQLite)."""
        return self._probe.read()

    def _history(self, partner: str, epoch: int) -> list[ProfileVersion]:
        """The partner's profile history, re-read only when the epoch moved (read after it)."""
        with self._lock:
            known = self._histories.get(partner)
        if known is not None and known[0] == epoch:
            return known[1]
        with self.db.read() as conn:
            history = partners_store.history(conn, partner)
        with self._lock:
            self._histories[partner] = (epoch, history)
        return history

    def stamp(self, partner: str, *, at: datetime | None = None, cached_only: bool = False) -> Stamp | None:
        """The partner's change stamp at ``at``: the epoch (one read) and the next time what it is
        served changes by the clock alone: a profile version taking effect, or an embargoed version
        becoming releasable (conservatively: any stored version's ``date_added + embargo``).
        With ``cached_only``, None when that needs more than the epoch read (after a change)."""
        at = at or self.clock.now()
        at_us = to_micros(at)
        epoch = self.epoch()
        if cached_only:
            with self._lock:
                known = self._histories.get(partner)
                added = self._added
            if known is None or known[0] != epoch:
                return None
            pv = profile_in_force(known[1], at)
            if pv is not None and pv.profile.embargo > timedelta(0) and (added is None or added[0] != epoch):
                return None
        history = self._history(partner, epoch)
        nxt = next_change(history, at)
        expires = to_micros(nxt) if nxt is not None else None
        pv = profile_in_force(history, at)
        if pv is not None and pv.profile.embargo > timedelta(0):
            emb_us = pv.profile.embargo // timedelta(microseconds=1)
            added_us = self._sorted_added(epoch)
            i = int(np.searchsorted(added_us, at_us - emb_us, "right"))
            if i < len(added_us):
                release_us = int(added_us[i]) + emb_us
                expires = release_us if expires is None else min(expires, release_us)
        return Stamp(epoch, at_us, expires)

    def _sorted_added(self, epoch: int) -> npt.NDArray[np.int64]:
        with self._lock:
            if self._added is not None and self._added[0] == epoch:
                return self._added[1]
        cols, _ = self.columns()
        added = np.unique(np.asarray(cols.added_us, dtype=np.int64))
        with self._lock:
            self._added = (epoch, added)
        return added

    # -- serving --------------------------------------------------------------------------
    def view(self, partner: str, *, at: datetime | None = None) -> PartnerView:
        """The partner's materialised decisions, recomputed first if stale (new profile in force,
        versions past the watermark). While the change epoch stands still, the cached verdicts
        are reused after one read (only the profile in force and the embargo date are re-derived)."""
        at = at or self.clock.now()
        epoch = self.epoch()  # read first: everything read after it is at least as new
        history = self._history(partner, epoch)
        pv = profile_in_force(history, at)
        if pv is None:
            raise NoProfile(f"partner `{partner}` has no trust profile in force")
        emb = pv.profile.embargo
        cutoff = to_micros(at - emb) if emb > timedelta(0) else None
        with self._lock:
            known = self._views.get(partner)
        if known is not None and known[0] == epoch and known[1].profile.version == pv.version:
            return replace(known[1], profile=pv, embargo_cutoff_us=cutoff)
        with self.db.read() as conn:
            info = store.info(conn, partner)
            top = objects_store.max_seq(conn)
        if info is None or info.profile_version != pv.version or info.watermark_seq < top:
            with self.db.write() as conn:
                self.recompute(conn, partner, at=at)
                info = store.info(conn, partner)
            assert info is not None
        with self._lock:
            cached = known[1] if known is not None else None
            if cached is not None and cached.generation == info.generation and cached.profile.version == pv.version:
                verdicts = cached.verdicts
            else:
                with self.db.read() as conn:
                    verdicts = store.load(conn, partner)
            view = PartnerView(partner, pv, verdicts, info.generation, cutoff)
            self._views[partner] = (epoch, view)
            return view

    def id_visibility(self, view: PartnerView) -> Callable[[str], bool]:
        """Whether the partner may see some version of an object id (unknown ids: no)."""
        cols, _ = self.columns()
        rows_by_id = self._rows_by_id
        seq, added = cols.seq, cols.added_us

        def visible(stix_id: str) -> bool:
            return any(view.released(int(seq[i]), int(added[i])) for i in rows_by_id.get(stix_id, ()))

        return visible

    def released_seqs(self, partner: str, *, at: datetime | None = None) -> set[int]:
        """Every seq the partner may receive at ``at`` (for tests, exports and reports)."""
        view = self.view(partner, at=at)
        out: set[int] = set()
        with self.db.read() as conn:
            for seq, added in conn.execute(select(objects.c.seq, objects.c.date_added_us)):
                if view.released(int(seq), int(added)):
                    out.add(int(seq))
        return out
