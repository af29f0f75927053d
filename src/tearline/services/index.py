"""A per-partner index of the versions a partner may see in one collection, for keyset pages.

Choosing "the last (or first) version of each id among those this partner may see" row by row
means reading every other version of every id on the page, and a page of last versions may sit
behind thousands of superseded rows. So, per (partner, collection, ``match[spec_version]``), the
visible versions are indexed once (numpy arrays in (date_added, seq) order with flags for the
first and last visible version of each id) and a page is a binary search plus a masked walk.

An index is stamped with the partner's (profile version, decision generation) and with the seqs
the release pipeline withheld although the materialised view released them; when the pipeline
withholds another one, the index is rebuilt without it. Memory is a few arrays of the collection's
length per partner, bounded by an LRU of indexes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tearline.store.pages import LightRow, Match, Position

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class VisibleIndex:
    added: I64
    seq: I64
    type_code: I64
    id_code: I64
    is_first: B
    is_last: B
    types: dict[str, int]
    ids: dict[str, int]

    @classmethod
    def build(cls, rows: Sequence[LightRow], visible: Callable[[LightRow], bool]) -> VisibleIndex:
        vis = [r for r in rows if visible(r)]  # rows arrive in (date_added, seq) order
        first: dict[str, tuple[int, int]] = {}
        last: dict[str, tuple[int, int]] = {}
        for r in vis:
            key = (r.version_us, r.seq)
            if r.stix_id not in first or key < first[r.stix_id]:
                first[r.stix_id] = key
            if r.stix_id not in last or key > last[r.stix_id]:
                last[r.stix_id] = key
        firsts = {s for _, s in first.values()}
        lasts = {s for _, s in last.values()}
        types: dict[str, int] = {}
        ids: dict[str, int] = {}
        n = len(vis)
        return cls(
            added=np.fromiter((r.date_added_us for r in vis), np.int64, n),
            seq=np.fromiter((r.seq for r in vis), np.int64, n),
            type_code=np.fromiter((types.setdefault(r.type, len(types)) for r in vis), np.int64, n),
            id_code=np.fromiter((ids.setdefault(r.stix_id, len(ids)) for r in vis), np.int64, n),
            is_first=np.fromiter((r.seq in firsts for r in vis), np.bool_, n),
            is_last=np.fromiter((r.seq in lasts for r in vis), np.bool_, n),
            types=types,
            ids=ids,
        )

    def _start(self, after: Position | None, added_after_us: int | None) -> int:
        start = 0
        if after is not None:
            lo = int(np.searchsorted(self.added, after[0], "left"))
            hi = int(np.searchsorted(self.added, after[0], "right"))
            start = lo + int(np.searchsorted(self.seq[lo:hi], after[1], "right"))
        if added_after_us is not None:
            start = max(start, int(np.searchsorted(self.added, added_after_us, "right")))
        return start

    def select(self, first: bool, last: bool, every: bool, match: Match, after: Position | None,
               limit: int) -> tuple[list[int], bool]:
        """seqs of up to ``limit`` chosen rows after ``after``, and whether more follow."""
        type_codes = [self.types[t] for t in match.types if t in self.types] if match.types else None
        id_codes = [self.ids[i] for i in match.ids if i in self.ids] if match.ids else None
        if type_codes == [] or id_codes == []:
            return [], False
        found: list[int] = []
        pos = self._start(after, match.added_after_us)
        window = max(4 * (limit + 1), 4096)
        while pos < len(self.seq) and len(found) <= limit:
            end = min(len(self.seq), pos + window)
            mask = np.ones(end - pos, np.bool_) if every else np.zeros(end - pos, np.bool_)
            if not every:
                if first:
                    mask |= self.is_first[pos:end]
                if last:
                    mask |= self.is_last[pos:end]
            if type_codes is not None:
                mask &= np.isin(self.type_code[pos:end], type_codes)
            if id_codes is not None:
                mask &= np.isin(self.id_code[pos:end], id_codes)
            found.extend(int(s) for s in self.seq[pos:end][mask][: limit + 1 - len(found)])
            pos = end
        return found[:limit], len(found) > limit


class IndexCache:
    """LRU of indexes keyed by (partner, collection, spec versions), each with its stamp."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str, tuple[str, ...]], tuple[object, VisibleIndex]] = OrderedDict()
        self._withheld: dict[str, tuple[object, set[int]]] = {}
        self._lock = threading.Lock()

    def withheld(self, partner: str, stamp: object) -> frozenset[int]:
        with self._lock:
            got = self._withheld.get(partner)
            return frozenset(got[1]) if got is not None and got[0] == stamp else frozenset()

    def add_withheld(self, partner: str, stamp: object, seqs: Sequence[int]) -> None:
        with self._lock:
            got = self._withheld.get(partner)
            if got is None or got[0] != stamp:
                got = (stamp, set())
                self._withheld[partner] = got
            got[1].update(seqs)

    def get(self, key: tuple[str, str, tuple[str, ...]], stamp: object) -> VisibleIndex | None:
        with self._lock:
            got = self._items.get(key)
            if got is None or got[0] != stamp:
                return None
            self._items.move_to_end(key)
            return got[1]

    def put(self, key: tuple[str, str, tuple[str, ...]], stamp: object, index: VisibleIndex) -> None:
        with self._lock:
            self._items[key] = (stamp, index)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
