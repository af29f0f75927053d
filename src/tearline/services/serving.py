"""What one partner may see of a collection, a page at a time: view, pipeline, cache.

Every object, manifest record and version a partner is shown has passed two tests: its
materialised decision (:meth:`PartnerView.released`, a verdict byte per ``seq`` plus the embargo
date bound) and the release pipeline (:meth:`ReleasePipeline.release`), whose bytes are the only
bytes served. The view is the cheap first filter; the pipeline has the last word (it withholds, for
example, a tearline version it cannot make yet), so listings and counts use its verdict too.

Running the pipeline per request would re-render every object on every page, so its outcomes are
kept in a bounded in-process LRU keyed by ``(partner, seq)`` and stamped with the partner's
``(profile version, decision generation, protected-term version, next time-based change)``: a new
profile version, an approval change or new versions bump the generation, a new protected term
changes the term version, and an embargoed version becoming releasable (which can change what a
reference-dropping tearline keeps) changes the last, so each invalidates every entry of that
partner. Only final outcomes
are kept (released bytes, or a withhold); a HOLD (embargo, pending approval) is asked again next
time. An entry made for a listing (no delivery) is not a delivery: the first time those bytes go
out in an objects response the pipeline runs again with its record stage on, and the entry then
keeps the bytes, the release record and the ledger entry, so sending it again is a counted repeat.
So a listing entry keeps only the verdict, not the bytes (:data:`LISTED`): listings, manifests and
index builds ask only whether a version is released, and nothing sends a listing entry's bytes.
Building a partner's index runs the pipeline over every version the view releases, so keeping
those bytes held a copy of every released object per worker (8.5 MB on the ATT&CK data) that was
never read.

``match[version]=first|last`` choose among the versions *this partner may see*: the newest
released version is "last" even when a newer one exists but is withheld, so a partner cannot learn
that a newer withheld version exists.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection

from tearline.model.releases import Verdict
from tearline.services.cursors import digest
from tearline.services.decisions import Decisions
from tearline.services.gate import Gate
from tearline.services.index import IndexCache, VisibleIndex
from tearline.services.release import ReleasePipeline
from tearline.store import pages
from tearline.store.pages import LightRow, Match, Position

__all__ = [
    "LISTED", "Entry", "Filters", "Item", "LightRow", "Match", "PartnerReader", "Position", "ReleaseCache",
    "VersionFilter", "window",
]

Stamp = tuple[int, int, str, int]  # profile version, decision generation, term version, expiry
LISTED = b""  # the body of a listing entry: released, bytes not kept (a release is never empty)
log = logging.getLogger(__name__)



@dataclass(frozen=True)
class VersionFilter:
    """``match[version]``: which versions of each id (among those the partner may see)."""

    first: bool = False
    last: bool = True
    all: bool = False
    at_us: tuple[int, ...] = ()

    @property
    def grouped(self) -> bool:
        """Whether choosing needs the other versions of an id (anything but plain ``all``)."""
        return not self.all


@dataclass(frozen=True)
class Filters:
    match: Match
    versions: VersionFilter
    limit: int
    next: str | None

    def digest(self) -> str:
        m, v = self.match, self.versions
        return digest(m.ids, m.types, m.spec_versions, m.added_after_us, v.first, v.last, v.all, v.at_us)


class Entry(NamedTuple):
    """One pipeline outcome."""

    stamp: Stamp
    body: bytes | None  # None: withheld; LISTED: released, bytes not kept (not delivered)
    delivered: bool  # made with the record stage on
    release_id: int | None = None  # the release record of a delivery
    ledger_seq: int | None = None  # the ledger entry that recorded it


class ReleaseCache:
    """Pipeline outcomes per (partner, seq), bounded by the bytes they hold.

    Partners whose profiles (and canaries) give them the same bytes for a version share one copy:
    a body is kept once per content, with the number of entries that use it, and the bound counts
    each distinct body once plus a fixed overhead per entry. Four partners under the same profile
    crawling the ATT&CK data hold 8.5 MB of bodies instead of 34 MB.

    Entries are held as plain tuples of plain values: the cyclic garbage collector stops tracking
    such a tuple once it survives a collection (it does not for a tuple subclass), so tens of
    thousands of entries add nothing to the full collections that would otherwise stall requests.
    """

    ENTRY_BYTES = 448  # per entry besides its body: key, tuple, ints, table slots (330-450 B measured)

    def __init__(self, max_bytes: int = 96 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, int], tuple[Any, ...]] = OrderedDict()
        self._bodies: dict[bytes, tuple[bytes, int]] = {}  # content -> (the copy kept, entries using it)
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, partner: str, seq: int, stamp: Stamp) -> Entry | None:
        with self._lock:
            got = self._items.get((partner, seq))
            if got is None or got[0] != stamp:
                return None
            self._items.move_to_end((partner, seq))
        return Entry._make(got)

    def put(self, partner: str, seq: int, entry: Entry) -> None:
        with self._lock:
            old = self._items.pop((partner, seq), None)
            if old is not None:
                self._forget(old)
            body = entry.body
            if body:
                kept, uses = self._bodies.get(body, (body, 0))
                if not uses:
                    self._bytes += len(body)
                self._bodies[kept] = (kept, uses + 1)
                entry = entry._replace(body=kept)
            self._items[(partner, seq)] = tuple(entry)
            self._bytes += self.ENTRY_BYTES
            while self._bytes > self.max_bytes and self._items:
                self._forget(self._items.popitem(last=False)[1])

    def _forget(self, item: tuple[Any, ...]) -> None:
        self._bytes -= self.ENTRY_BYTES
        body: bytes | None = item[1]
        if not body:
            return
        kept, uses = self._bodies[body]
        if uses > 1:
            self._bodies[kept] = (kept, uses - 1)
        else:
            del self._bodies[kept]
            self._bytes -= len(kept)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    @property
    def distinct_bodies(self) -> int:
        return len(self._bodies)

    def __len__(self) -> int:
        return len(self._items)


class _NoView:
    """A partner without a profile in force yet: sees nothing."""

    generation = -1

    def released(self, seq: int, date_added_us: int) -> bool:
        return False


@dataclass
class Item:
    row: LightRow
    body: bytes
    ledger_seq: int
    release_id: int
    repeat: bool  # delivered before under the same stamp: a repeat, counted but not recorded again


class PartnerReader:
    """One request's reading of the node as one partner sees it, at one instant."""

    def __init__(self, decisions: Decisions, gate: Gate, release: ReleasePipeline, cache: ReleaseCache,
                 partner: str, at: datetime, indexes: IndexCache | None = None, *, refresh_gate: bool = True,
                 expires_us: int | None = None) -> None:
        self.release = release
        self.cache = cache
        self.indexes = indexes or IndexCache()
        self.partner = partner
        self.at = at
        expiry = -1 if expires_us is None else expires_us  # the next time-based change (embargo)
        try:
            view = decisions.view(partner, at=at)
            self.view: object = view
            if refresh_gate:  # new protected terms invalidate every cached outcome
                gate.refresh()
            self.stamp: Stamp = (view.profile.version, view.generation, gate.version or "", expiry)
            self._released = view.released
        except LookupError:
            self.view = _NoView()
            self.stamp = (-1, -1, "", expiry)
            self._released = _NoView().released

    # -- the two tests ------------------------------------------------------------------------
    def _outcomes(self, conn: Connection, rows: Sequence[LightRow], *,
                  deliver: bool) -> tuple[dict[int, Entry], set[int]]:
        """seq -> outcome for every row (withheld: ``body`` None), and the seqs the pipeline ran on
        now (the rest came from the cache)."""
        withheld = Entry(self.stamp, None, False)
        result: dict[int, Entry] = {}
        need: list[int] = []
        for r in rows:
            if not self._released(r.seq, r.date_added_us):
                result[r.seq] = withheld
                continue
            entry = self.cache.get(self.partner, r.seq, self.stamp)
            if entry is None or (deliver and entry.body is not None and not entry.delivered):
                need.append(r.seq)
            else:
                result[r.seq] = entry
        if need:
            for out in self.release.release(self.partner, need, channel="taxii", at=self.at, record=deliver):
                entry = Entry(self.stamp, out.body, deliver, out.release_id, out.ledger_seq)
                result[out.seq] = entry
                if out.body is not None or out.verdict is Verdict.WITHHOLD:
                    kept = entry if deliver or out.body is None else entry._replace(body=LISTED)
                    self.cache.put(self.partner, out.seq, kept)
            for seq in need:
                result.setdefault(seq, withheld)
            refused = [seq for seq in need if result[seq].body is None]
            if refused:  # released by the view, withheld by the pipeline: indexes must forget them
                self.indexes.add_withheld(self.partner, self.stamp, refused)
        return result, set(need)

    def released(self, conn: Connection, rows: Sequence[LightRow]) -> dict[int, bool]:
        """seq -> whether the pipeline releases it, for every row (no delivery); pipeline on misses."""
        return {seq: e.body is not None for seq, e in self._outcomes(conn, rows, deliver=False)[0].items()}

    def visible(self, conn: Connection, rows: Sequence[LightRow]) -> list[LightRow]:
        outs = self.released(conn, rows)
        return [r for r in rows if outs.get(r.seq)]

    # -- choosing versions --------------------------------------------------------------------
    @staticmethod
    def choose(versions: Sequence[LightRow], vf: VersionFilter) -> set[int]:
        """seqs chosen by ``match[version]`` among one id's visible versions."""
        if not versions:
            return set()
        if vf.all:
            return {v.seq for v in versions}
        ordered = sorted(versions, key=lambda v: (v.version_us, v.seq))
        chosen: set[int] = set()
        if vf.first:
            chosen.add(ordered[0].seq)
        if vf.last:
            chosen.add(ordered[-1].seq)
        if vf.at_us:
            wanted = set(vf.at_us)
            chosen.update(v.seq for v in ordered if v.version_us in wanted)
        return chosen

    def _chosen(self, conn: Connection, collection_id: str, cand: list[LightRow], match: Match,
                vf: VersionFilter) -> list[LightRow]:
        if not cand:
            return []
        if not vf.grouped:
            return self.visible(conn, cand)
        group = pages.versions_of_ids(conn, collection_id, sorted({r.stix_id for r in cand}), match.spec_versions)
        by_id: dict[str, list[LightRow]] = {}
        for g in self.visible(conn, group):
            by_id.setdefault(g.stix_id, []).append(g)
        chosen: set[int] = set()
        for versions in by_id.values():
            chosen |= self.choose(versions, vf)
        return [r for r in cand if r.seq in chosen]

    # -- pages ----------------------------------------------------------------------------------
    def _index(self, conn: Connection, collection_id: str, spec_versions: tuple[str, ...]) -> VisibleIndex:
        key = (self.partner, collection_id, spec_versions)
        stamp = (self.stamp, len(self.indexes.withheld(self.partner, self.stamp)))
        index = self.indexes.get(key, stamp)
        if index is not None:
            return index
        rows = pages.collection_rows(conn, collection_id, spec_versions)
        cand = [r for r in rows if self._released(r.seq, r.date_added_us)]
        for start in range(0, len(cand), 500):  # the pipeline's verdict on every row (cached after)
            self.released(conn, cand[start : start + 500])
        withheld = self.indexes.withheld(self.partner, self.stamp)
        index = VisibleIndex.build(cand, lambda r: r.seq not in withheld)
        self.indexes.put(key, (self.stamp, len(withheld)), index)
        return index

    def page(self, conn: Connection, collection_id: str, match: Match, vf: VersionFilter, *,
             after: Position | None, limit: int) -> tuple[list[LightRow], bool]:
        """Up to ``limit`` chosen, visible rows after ``after``; and whether more follow."""
        if not vf.at_us:
            for _ in range(3):
                index = self._index(conn, collection_id, match.spec_versions)
                seqs, more = index.select(vf.first, vf.last, vf.all, match, after, limit)
                rows = pages.light_by_seq(conn, seqs)
                outs = self.released(conn, rows)
                if len(rows) == len(seqs) and all(outs.get(r.seq) for r in rows):
                    return rows, more
        return self._scan_page(conn, collection_id, match, vf, after=after, limit=limit)

    def _scan_page(self, conn: Connection, collection_id: str, match: Match, vf: VersionFilter, *,
                   after: Position | None, limit: int) -> tuple[list[LightRow], bool]:
        """The index-free path (``match[version]`` timestamps): scan chunks, choose per id."""
        found: list[LightRow] = []
        chunk = min(max(2 * limit, 200), 2000)
        pos = after
        while len(found) <= limit:
            rows = pages.scan(conn, collection_id, match, after=pos, chunk=chunk)
            if not rows:
                break
            pos = rows[-1].position
            cand = [r for r in rows if self._released(r.seq, r.date_added_us)]
            found.extend(self._chosen(conn, collection_id, cand, match, vf))
            if len(rows) < chunk:
                break
        return found[:limit], len(found) > limit

    def of_id(
        self, conn: Connection, collection_id: str, stix_id: str, spec_versions: tuple[str, ...]
    ) -> list[LightRow]:
        """Every version of one id the partner may see, in (date_added, seq) order."""
        rows = pages.versions_of_ids(conn, collection_id, [stix_id], spec_versions)
        cand = [r for r in rows if self._released(r.seq, r.date_added_us)]
        return sorted(self.visible(conn, cand), key=lambda r: r.position)

    def deliver(self, conn: Connection, rows: Sequence[LightRow]) -> list[Item]:
        """The bytes to send for rows already chosen, each with the ledger entry that recorded it:
        a first delivery is recorded by the pipeline before its bytes are returned; a repeat
        (delivered bytes from the cache) is marked so the caller counts it."""
        outs, ran = self._outcomes(conn, rows, deliver=True)
        items: list[Item] = []
        for r in rows:
            e = outs.get(r.seq)
            if e is None or e.body is None:
                continue
            if e.ledger_seq is None or e.release_id is None:  # never hand out unrecorded bytes
                log.error("release of seq %s to %s has no ledger entry; not sent", r.seq, self.partner)
                continue
            items.append(Item(r, e.body, e.ledger_seq, e.release_id, r.seq not in ran))
        return items


def window(rows: Sequence[LightRow], match: Match, after: Position | None, limit: int) -> tuple[list[LightRow], bool]:
    """Keyset page over an in-memory list already in (date_added, seq) order."""
    picked = [
        r for r in rows
        if (match.added_after_us is None or r.date_added_us > match.added_after_us)
        and (after is None or r.position > after)
    ]
    return picked[:limit], len(picked) > limit
