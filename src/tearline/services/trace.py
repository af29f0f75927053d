"""Tracing a leak: which partner's copy it came from, with a stated confidence and the ledger's proof.

1. **Match** what leaked to released versions: a STIX object by its id (and version where the copy
   keeps ``modified``), free text by shingles of canonical tokens (every form of a fingerprint class
   reads as the class, so each partner's copy of a text matches its stored text alike; re-wrapping
   and re-casing change nothing). Text is matched window by window, so a leak stitched from several
   objects' prose is split between them.
2. **Read** the symbols the copy carries (:func:`tearline.fingerprint.embed.symbols`).
3. **Score** every partner that the release records show received a matched object, over the
   symbols of the objects it received (:mod:`tearline.fingerprint.code`). A partner that received
   none of them is never scored, so never accused.
4. **Accuse** a partner when the chance that an innocent partner scores as high, bounded by the
   Chernoff bound and multiplied by the number of partners scored (a union bound), is at most
   ``max_false`` (default 10⁻³). Each row names the matched objects with their ledger entries; an
   accused partner's entries come with inclusion proofs against the current signed tree head.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tearline.canonical import format_timestamp, from_micros, loads
from tearline.fingerprint import prose
from tearline.fingerprint.code import Code, score_terms, tail_bound, threshold
from tearline.fingerprint.embed import PROSE_FIELDS, Symbols, one_way_places, put_prose, symbols
from tearline.fingerprint.leak import Leak
from tearline.ledger.verify import verify_inclusion
from tearline.services.ledger import Ledger
from tearline.store import objects as objects_store
from tearline.store import releases as releases_store
from tearline.store.engine import Database

SHINGLE = 4  # canonical tokens per shingle
WINDOW = 40  # tokens of leaked text matched together
MIN_VOTES = 3  # shingles a window must share with a stored text to match it
MAX_FALSE = 1e-3


@dataclass(frozen=True)
class Matched:
    stix_id: str
    how: str  # "id" or "text"
    symbols: int


@dataclass(frozen=True)
class Entry:
    stix_id: str
    version: str
    channel: str
    first: str
    ledger_seq: int | None
    proof: dict[str, Any] | None = None


@dataclass(frozen=True)
class PartnerScore:
    partner: str
    score: float
    threshold: float
    bound: float  # the false-accusation probability bound (union over the partners scored)
    symbols: int
    accused: bool
    entries: tuple[Entry, ...]


@dataclass
class TraceResult:
    sources: list[str]
    matched: list[Matched] = field(default_factory=list)
    symbols: int = 0
    partners: list[PartnerScore] = field(default_factory=list)
    max_false: float = MAX_FALSE
    unmatched: int = 0  # leaked objects or text windows that matched nothing released

    @property
    def accused(self) -> list[PartnerScore]:
        return [p for p in self.partners if p.accused]

    def to_dict(self) -> dict[str, Any]:
        return {
            "sources": self.sources,
            "max_false": self.max_false,
            "symbols": self.symbols,
            "unmatched": self.unmatched,
            "matched": [m.__dict__ for m in self.matched],
            "partners": [
                {
                    "partner": p.partner, "score": round(p.score, 3),
                    "threshold": None if math.isinf(p.threshold) else round(p.threshold, 3),
                    "false_accusation_bound": p.bound, "symbols": p.symbols, "accused": p.accused,
                    "entries": [e.__dict__ for e in p.entries],
                }
                for p in self.partners
            ],
        }


@dataclass
class _Stored:
    """One released object as the tracer knows it."""

    versions: dict[str, dict[str, Any]]  # version -> stored object
    places: dict[str, frozenset[str]] = field(default_factory=dict)  # prose field -> one-way places


class Tracer:
    def __init__(self, db: Database, code: Code, ledger: Ledger, *, max_false: float = MAX_FALSE) -> None:
        self.db = db
        self.code = code
        self.ledger = ledger
        self.max_false = max_false
        self._stored: dict[str, _Stored] = {}
        self._shingles: dict[int, list[tuple[str, str]]] = {}
        self._seen: int = -1

    # -- the index of what was released ---------------------------------------------------
    def refresh(self) -> None:
        """(Re)build the index of released versions when releases were recorded since."""
        with self.db.read() as conn:
            released = releases_store.released_versions(conn)
            if len(released) == self._seen:
                return
            wanted: dict[str, set[str]] = defaultdict(set)
            for sid, ver in released:
                wanted[sid].add(ver)
            stored: dict[str, _Stored] = {}
            for row in objects_store.iter_bodies(conn):
                r: Any = row
                vers = wanted.get(str(r.stix_id))
                if vers and str(r.version) in vers:
                    st = stored.setdefault(str(r.stix_id), _Stored({}))
                    st.versions.setdefault(str(r.version), loads(r.body))
        shingles: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for sid, st in stored.items():
            for f in PROSE_FIELDS:
                texts = {o[f] for o in st.versions.values() if isinstance(o.get(f), str) and o[f]}
                if not texts:
                    continue
                st.places[f] = frozenset().union(*(one_way_places(t) for t in texts))
                keys: set[int] = set()
                for t in texts:
                    keys |= _shingles([c for _, c in prose.tokens(t)])
                for k in keys:
                    shingles[k].append((sid, f))
        self._stored, self._shingles, self._seen = stored, dict(shingles), len(released)

    # -- tracing --------------------------------------------------------------------------
    def trace(self, leaks: Sequence[Leak], *, proofs: bool = True, thresholds: bool = True) -> TraceResult:
        """Match, read, score and accuse (see the module docstring). ``thresholds``: compute each
        partner's threshold score for the table (the verdict does not need it)."""
        self.refresh()
        result = TraceResult([lk.source for lk in leaks], max_false=self.max_false)
        found: Symbols = {}
        owner: dict[bytes, set[str]] = {}
        per_object: Counter[str] = Counter()
        how: dict[str, str] = {}
        for leak in leaks:
            for obj in leak.objects:
                sid = str(obj.get("id"))
                st = self._stored.get(sid)
                if st is None:
                    texts = [obj[f] for f in PROSE_FIELDS if isinstance(obj.get(f), str)]
                    if not texts:
                        result.unmatched += 1
                    for t in texts:
                        self._text(t, found, owner, per_object, how, result, excerpt=False)
                    continue
                got = symbols(obj, self.code, places=st.places)  # the same places as text is read with
                self._merge(got, sid, found, owner, per_object)
                how.setdefault(sid, "id")
            for text in leak.texts:
                self._text(text, found, owner, per_object, how, result, excerpt=True)
        live = {p: y for p, y in found.items() if y >= 0}
        result.symbols = len(live)
        result.matched = [Matched(sid, how[sid], per_object[sid]) for sid in sorted(how)]
        result.partners = self._score(live, owner, sorted(how), proofs=proofs, thresholds=thresholds)
        return result

    def _merge(self, got: Symbols, sid: str, found: Symbols, owner: dict[bytes, set[str]],
               per_object: Counter[str]) -> None:
        for p, y in got.items():
            owner.setdefault(p, set()).add(sid)
            if p in found and found[p] != y:
                found[p] = -1
            elif p not in found:
                found[p] = y
                if y >= 0:
                    per_object[sid] += 1

    def _text(self, text: str, found: Symbols, owner: dict[bytes, set[str]], per_object: Counter[str],
              how: dict[str, str], result: TraceResult, *, excerpt: bool) -> None:
        toks = prose.tokens(text)
        if len(toks) < SHINGLE:
            return
        canon = [c for _, c in toks]
        starts = [s for s, _ in toks]
        windows: list[tuple[int, list[tuple[str, str]]]] = []  # (first char, the stored texts it matches)
        for w in range(0, len(canon), WINDOW):
            part = canon[max(0, w - SHINGLE + 1):w + WINDOW]
            votes: Counter[tuple[str, str]] = Counter()
            for k in _shingles(part):
                for hit in self._shingles.get(k, ()):
                    votes[hit] += 1
            top = max(votes.values(), default=0)
            # every stored text as good as the best: the same sentence in several objects
            windows.append((starts[w], sorted(k for k, v in votes.items() if v == top) if top >= MIN_VOTES else []))
        if not any(m for _, m in windows):
            result.unmatched += 1
            return
        got_by: dict[str, Symbols] = defaultdict(dict)
        bounds = [s for s, _ in windows]
        for slot in prose.read(text).slots:
            if excerpt and slot.edge:
                continue
            for sid, f in windows[max(0, bisect_right(bounds, slot.start) - 1)][1]:
                put_prose(got_by[sid], slot, self._stored[sid].places.get(f))
        for sid, got in got_by.items():
            self._merge(got, sid, found, owner, per_object)
        for _, m in windows:
            for sid, _f in m:
                how.setdefault(sid, "text")

    def _score(self, live: Symbols, owner: dict[bytes, set[str]], matched: Sequence[str], *,
               proofs: bool, thresholds: bool) -> list[PartnerScore]:
        with self.db.read() as conn:
            rows = releases_store.received(conn, matched)
        got: dict[str, dict[tuple[str, str], Any]] = defaultdict(dict)
        for r in rows:
            got[str(r.partner)].setdefault((str(r.stix_id), str(r.version)), r)
        if not got:
            return []
        n = len(got)
        eps = self.max_false / n
        positions = sorted(live)
        ps_all = {p: self.code.bias(p) for p in positions}
        out: list[PartnerScore] = []
        for partner, entries in got.items():
            ids = {sid for sid, _ in entries}
            mine = [p for p in positions if owner[p] & ids]
            ys = [live[p] for p in mine]
            ps = [ps_all[p] for p in mine]
            xs = [self.code.symbol(partner, p) for p in mine]
            score = score_terms(ys, xs, ps) if mine else 0.0
            bound = min(1.0, tail_bound(ys, ps, score) * n) if mine and score > 0 else 1.0
            z = threshold(ys, ps, eps) if mine and thresholds else math.inf
            accused = bool(mine) and score > 0 and bound <= self.max_false
            out.append(PartnerScore(partner, score, z, bound, len(mine), accused,
                                    tuple(self._entry(r, proofs and accused) for r in entries.values())))
        out.sort(key=lambda s: (-s.score, s.partner))
        return out

    def _entry(self, r: Any, proof: bool) -> Entry:
        seq = None if r.ledger_seq is None else int(r.ledger_seq)
        proved: dict[str, Any] | None = None
        if proof and seq is not None:
            try:
                pr = self.ledger.prove(seq)
                verify_inclusion(pr.seq, pr.size, pr.leaf_hash, pr.path, pr.head.root)  # raises if not
                proved = {"verified": True, "tree_size": pr.size, "leaf_hash": pr.leaf_hash.hex(),
                          "path": [h.hex() for h in pr.path], "root": pr.head.root.hex()}
            except Exception as exc:  # a proof that cannot be made is reported, not hidden
                proved = {"error": str(exc)}
        return Entry(str(r.stix_id), str(r.version), str(r.channel),
                     format_timestamp(from_micros(int(r.first_us))), seq, proved)


def _shingles(canon: Sequence[str]) -> set[int]:
    return {h for h in (hash(tuple(canon[i:i + SHINGLE])) for i in range(len(canon) - SHINGLE + 1)) if h % 2 == 0}

