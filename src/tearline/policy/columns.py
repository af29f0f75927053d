"""Label columns: every stored version's label as NumPy arrays, for vectorised recomputation.

One row per stored object version (``seq`` is the store's row id) and, in :class:`PortionColumns`,
one row per portion (field-level label) with the index of its object row in ``parent``. Sets of
codes (REL TO, further sharing, topics) are bitsets over a :class:`Vocab`: 2-D ``uint64`` arrays of
shape ``[n, words]`` stored column-major, so each 64-code word is one contiguous column and the
vocabulary can grow past 64 without touching existing rows.

:class:`ColumnsBuilder` is the growable form the store keeps: ``append`` writes one row into arrays
with spare capacity (doubling when full), and ``build`` returns a :class:`LabelColumns` of read-only
views of the first ``n`` rows in O(1). Rows are never rewritten, so a snapshot stays valid while the
builder keeps appending.

Invariant: portion rows are sorted by ``parent`` (the builder appends them with their object;
:meth:`LabelColumns.take` keeps it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from tearline.model.markings import Label, MarkedItem

__all__ = ["WORD", "ColumnsBuilder", "LabelArrays", "LabelColumns", "PortionColumns", "Vocab"]

WORD = 64
_ORIGINATOR_MAX = int(np.iinfo(np.int16).max)


class Vocab:
    """Strings to small ints: stable (an id never changes) and growable (new names get new ids)."""

    __slots__ = ("_ids", "_names")

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._ids: dict[str, int] = {}
        self._names: list[str] = []
        for name in names:
            self.add(name)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._ids

    def add(self, name: str) -> int:
        """The id of ``name``, adding it if new."""
        i = self._ids.get(name)
        if i is None:
            i = len(self._names)
            self._ids[name] = i
            self._names.append(name)
        return i

    def get(self, name: str) -> int | None:
        return self._ids.get(name)

    def name(self, i: int) -> str:
        return self._names[i]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._names)

    @property
    def words(self) -> int:
        """64-bit words a bitset over the whole vocabulary needs (at least one)."""
        return max(1, -(-len(self._names) // WORD))

    def mask(self, names: Iterable[str], words: int) -> npt.NDArray[np.uint64]:
        """A bitset of width ``words`` with the known ``names`` set; unknown or wider names are left out."""
        out = [0] * words
        for name in names:
            i = self._ids.get(name)
            if i is not None and i < words * WORD:
                out[i // WORD] |= 1 << (i % WORD)
        return np.array(out, dtype=np.uint64)

    def decode(self, bits: npt.NDArray[np.uint64]) -> frozenset[str]:
        """The names whose bits are set in one row's bitset."""
        out: set[str] = set()
        for w, word in enumerate(bits.tolist()):
            while word:
                low = word & -word
                out.add(self._names[w * WORD + low.bit_length() - 1])
                word ^= low
        return frozenset(out)


@dataclass(frozen=True, eq=False)
class LabelArrays:
    """The label part of a row: what the policy reads. ``originator`` -1 means this node."""

    classification: npt.NDArray[np.int8]
    tlp: npt.NDArray[np.int8]
    noforn: npt.NDArray[np.bool_]
    orcon: npt.NDArray[np.bool_]
    cites_source: npt.NDArray[np.bool_]
    has_rel_to: npt.NDArray[np.bool_]
    has_fs: npt.NDArray[np.bool_]
    rel_to: npt.NDArray[np.uint64]
    further_sharing: npt.NDArray[np.uint64]
    topics: npt.NDArray[np.uint64]
    originator: npt.NDArray[np.int16]

    def __len__(self) -> int:
        return int(self.classification.shape[0])


@dataclass(frozen=True, eq=False)
class PortionColumns(LabelArrays):
    """Portion labels; ``parent`` is the row of the object each belongs to (sorted)."""

    parent: npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class LabelColumns(LabelArrays):
    """The labels of ``n`` stored versions, their portions and the vocabularies of their bitsets.

    ``cache`` holds arrays the vector engine derives from these columns (never the columns
    themselves); it is per snapshot, so a new snapshot starts empty.
    """

    seq: npt.NDArray[np.int64]
    added_us: npt.NDArray[np.int64]
    portions: PortionColumns
    partner_vocab: Vocab
    topic_vocab: Vocab
    cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def take(self, rows: npt.NDArray[Any]) -> LabelColumns:
        """The rows selected by a boolean mask or an index array (repeats allowed), with their portions."""
        idx = np.flatnonzero(rows) if rows.dtype == np.bool_ else np.asarray(rows, dtype=np.intp)
        p = self.portions
        count = np.bincount(p.parent, minlength=len(self)).astype(np.intp)
        start = np.cumsum(count) - count
        c = count[idx]
        total = int(c.sum())
        new_parent = np.repeat(np.arange(idx.shape[0], dtype=np.int64), c)
        offset = np.arange(total, dtype=np.intp) - np.repeat(np.cumsum(c) - c, c)
        pidx = np.repeat(start[idx], c) + offset
        return LabelColumns(
            **_take_labels(self, idx),
            seq=self.seq[idx],
            added_us=self.added_us[idx],
            portions=PortionColumns(**_take_labels(p, pidx), parent=new_parent),
            partner_vocab=self.partner_vocab,
            topic_vocab=self.topic_vocab,
        )


_SCALARS: dict[str, type[np.generic]] = {
    "classification": np.int8,
    "tlp": np.int8,
    "noforn": np.bool_,
    "orcon": np.bool_,
    "cites_source": np.bool_,
    "has_rel_to": np.bool_,
    "has_fs": np.bool_,
    "originator": np.int16,
}
_BITSETS = {"rel_to": "partner", "further_sharing": "partner", "topics": "topic"}


def _take_labels(t: LabelArrays, idx: npt.NDArray[np.intp]) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(t, k)[idx] for k in _SCALARS}
    out.update({k: np.asfortranarray(getattr(t, k)[idx]) for k in _BITSETS})
    return out


class _Growable:
    """Arrays with spare capacity; rows below ``n`` are never rewritten."""

    def __init__(self, extra: dict[str, type[np.generic]], words: dict[str, int], capacity: int) -> None:
        self.n = 0
        self.cap = max(16, capacity)
        self.dtypes = {**_SCALARS, **extra}
        self.words = dict(words)
        self.arrays: dict[str, npt.NDArray[Any]] = {
            k: np.zeros(self.cap, dtype=d) for k, d in self.dtypes.items()
        }
        for k, kind in _BITSETS.items():
            self.arrays[k] = np.zeros((self.cap, self.words[kind]), dtype=np.uint64, order="F")

    def reserve(self, extra: int) -> None:
        if self.n + extra <= self.cap:
            return
        cap = max(self.n + extra, self.cap * 2)
        for k, a in self.arrays.items():
            new = np.zeros((cap, *a.shape[1:]), dtype=a.dtype, order="F")
            new[: self.n] = a[: self.n]
            self.arrays[k] = new
        self.cap = cap

    def widen(self, kind: str, words: int) -> None:
        if words <= self.words[kind]:
            return
        self.words[kind] = words
        for k, k_kind in _BITSETS.items():
            if k_kind == kind:
                new = np.zeros((self.cap, words), dtype=np.uint64, order="F")
                old = self.arrays[k]
                new[:, : old.shape[1]] = old
                self.arrays[k] = new

    def views(self) -> dict[str, npt.NDArray[Any]]:
        out: dict[str, npt.NDArray[Any]] = {}
        for k, a in self.arrays.items():
            v = a[: self.n]
            v.flags.writeable = False
            out[k] = v
        return out

    def load(self, t: LabelArrays, extra: Iterable[str]) -> None:
        n = len(t)
        self.reserve(n)
        for k in (*_SCALARS, *extra):
            self.arrays[k][:n] = getattr(t, k)
        for k, kind in _BITSETS.items():
            src = getattr(t, k)
            self.widen(kind, src.shape[1])
            self.arrays[k][:n, : src.shape[1]] = src
        self.n = n


def _bits(ids: Iterable[int], words: int) -> list[int]:
    out = [0] * words
    for i in ids:
        out[i // WORD] |= 1 << (i % WORD)
    return out


class ColumnsBuilder:
    """Appends rows to growable label columns; :meth:`build` snapshots them in O(1)."""

    def __init__(
        self,
        *,
        partner_vocab: Vocab | None = None,
        topic_vocab: Vocab | None = None,
        capacity: int = 1024,
    ) -> None:
        self.partner_vocab = partner_vocab if partner_vocab is not None else Vocab()
        self.topic_vocab = topic_vocab if topic_vocab is not None else Vocab()
        words = {"partner": self.partner_vocab.words, "topic": self.topic_vocab.words}
        self._rows = _Growable({"seq": np.int64, "added_us": np.int64}, words, capacity)
        self._portions = _Growable({"parent": np.int64}, words, max(16, capacity // 8))

    @classmethod
    def from_columns(cls, cols: LabelColumns, *, capacity: int | None = None) -> ColumnsBuilder:
        """A builder that continues from existing columns (copies them once, then appends cheaply)."""
        b = cls(
            partner_vocab=cols.partner_vocab,
            topic_vocab=cols.topic_vocab,
            capacity=capacity if capacity is not None else max(1024, len(cols) * 2),
        )
        b._rows.load(cols, ("seq", "added_us"))
        b._portions.load(cols.portions, ("parent",))
        return b

    def __len__(self) -> int:
        return self._rows.n

    def append(self, seq: int, item: MarkedItem, added_us: int) -> None:
        """Add one stored version (its label and portion labels)."""
        labels = [item.label, *(p.label for p in item.portions)]
        derived = [self._derive(lab) for lab in labels]
        row = self._rows.n
        self._rows.reserve(1)
        self._put(self._rows, row, labels[0], *derived[0])
        self._rows.arrays["seq"][row] = seq
        self._rows.arrays["added_us"][row] = added_us
        self._rows.n = row + 1
        self._portions.reserve(len(item.portions))
        for lab, (pid, tid) in zip(labels[1:], derived[1:], strict=True):
            i = self._portions.n
            self._put(self._portions, i, lab, pid, tid)
            self._portions.arrays["parent"][i] = row
            self._portions.n = i + 1

    def extend(self, seqs: Sequence[int], items: Sequence[MarkedItem], added_us: Sequence[int]) -> None:
        """Add many stored versions; the same as :meth:`append` on each, in order.

        Intake hands out one item per distinct label (a feed marks thousands of objects alike), so
        each distinct item's columns are derived once, at the row of its first version, and copied
        to the others in one array operation. Items with portions go row by row.
        """
        n = len(items)
        if not len(seqs) == n == len(added_us):
            raise ValueError("one seq, item and added time per version")
        if n == 0:
            return
        ids = np.fromiter(map(id, items), dtype=np.uintp, count=n)
        _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        first_rows = sorted(first.tolist())  # each distinct item's first row, in row order (as append)
        if any(items[i].portions for i in first_rows):
            for seq, item, added in zip(seqs, items, added_us, strict=True):
                self.append(seq, item, added)
            return
        start = self._rows.n
        self._rows.reserve(n)
        for i in first_rows:
            label = items[i].label
            self._put(self._rows, start + i, label, *self._derive(label))
        a = self._rows.arrays  # (after any widening above)
        src = first[inverse.reshape(-1)] + start
        for k in (*_SCALARS, *_BITSETS):
            a[k][start : start + n] = a[k][src]
        a["seq"][start : start + n] = seqs
        a["added_us"][start : start + n] = added_us
        self._rows.n = start + n

    def _derive(self, label: Label) -> tuple[tuple[list[int], list[int] | None, int], list[int]]:
        """A label's partner and topic ids (added to the vocabularies, the bitsets widened to fit)."""
        pids = self._partner_ids(label)
        tids = [self.topic_vocab.add(t) for t in label.topics]
        for g in (self._rows, self._portions):
            g.widen("partner", self.partner_vocab.words)
            g.widen("topic", self.topic_vocab.words)
        return pids, tids

    def _partner_ids(self, label: Label) -> tuple[list[int], list[int] | None, int]:
        if not 0 <= label.classification <= 127:
            raise ValueError(f"classification level {label.classification} out of range")
        v = self.partner_vocab
        rel = [v.add(c) for c in label.rel_to]
        fs = None if label.further_sharing is None else [v.add(c) for c in label.further_sharing]
        origin = -1 if label.originator is None else v.add(label.originator)
        if origin > _ORIGINATOR_MAX:
            raise ValueError("too many partner codes for the originator column")
        return rel, fs, origin

    @staticmethod
    def _put(
        g: _Growable,
        i: int,
        label: Label,
        pids: tuple[list[int], list[int] | None, int],
        tids: list[int],
    ) -> None:
        rel, fs, origin = pids
        a = g.arrays
        a["classification"][i] = label.classification
        a["tlp"][i] = int(label.tlp)
        a["noforn"][i] = label.noforn
        a["orcon"][i] = label.orcon
        a["cites_source"][i] = bool(label.source_refs)
        a["has_rel_to"][i] = bool(label.rel_to)
        a["has_fs"][i] = fs is not None
        a["originator"][i] = origin
        for k, ids in (("rel_to", rel), ("further_sharing", fs or []), ("topics", tids)):
            arr = a[k]
            if ids:
                arr[i] = _bits(ids, arr.shape[1])

    def build(self) -> LabelColumns:
        """A snapshot of every row appended so far (read-only views; no copy)."""
        rows = self._rows.views()
        portions = self._portions.views()
        return LabelColumns(
            **rows,
            portions=PortionColumns(**portions),
            partner_vocab=self.partner_vocab,
            topic_vocab=self.topic_vocab,
        )
