"""Node addressing and the append frontier of an RFC 9162 Merkle tree.

A node is named by ``(level, index)``: the complete subtree of ``2**level`` leaves starting at leaf
``index * 2**level``. Complete subtrees never change once their last leaf is appended, so a store
that keeps the hash of every one of them can answer any root or proof at any past size by reading
O(log n) of them: the hash of an incomplete range is the right-to-left fold of the complete
subtrees that tile it (:func:`range_nodes`), which is exactly how RFC 9162 §2.1.1 splits a tree
of ``n`` leaves at the largest power of two below ``n``.

The :class:`Frontier` (a "compact range" over ``[0, size)``) holds one hash per set bit of the
size. Appending a leaf merges it with equal-sized subtrees on the right edge, so an append costs
O(1) amortised and O(log n) at worst, and yields exactly the nodes it completes: the store writes
those and never rebuilds anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from tearline.errors import IntegrityError, InvalidInput
from tearline.ledger.hashing import EMPTY_ROOT, HASH_SIZE, hash_children

NodeId = tuple[int, int]
"""``(level, index)`` of a complete subtree; level 0 is a leaf hash."""

GetNodes = Callable[[Sequence[NodeId]], Sequence[bytes]]
"""Reads the hashes of complete subtrees, in the order asked. Proof code only sees this."""


def split_point(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n >= 2``), RFC 9162 §2.1.1's ``k``."""
    if n < 2:
        raise InvalidInput(f"a tree of `{n}` leaves has no split point")
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(begin: int, end: int) -> list[NodeId]:
    """The complete subtrees tiling leaves ``[begin, end)``, left to right, largest aligned first."""
    if begin < 0 or end < begin:
        raise InvalidInput(f"`[{begin}, {end})` is not a leaf range")
    ids: list[NodeId] = []
    while begin < end:
        # The largest block aligned at `begin` (its lowest set bit) that still fits in the range.
        level = (begin & -begin).bit_length() - 1 if begin else (end - begin).bit_length() - 1
        while (1 << level) > end - begin:
            level -= 1
        ids.append((level, begin >> level))
        begin += 1 << level
    return ids


def fold(hashes: Sequence[bytes]) -> bytes:
    """Hash of a range from its tiling subtrees: right to left, ``H(a, H(b, c))``."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = hash_children(left, acc)
    return acc


def read_nodes(get_nodes: GetNodes, ids: Sequence[NodeId]) -> list[bytes]:
    """Call ``get_nodes`` and check it answered one 32-byte hash per id asked."""
    if not ids:
        return []
    got = list(get_nodes(ids))
    if len(got) != len(ids):
        raise IntegrityError(f"node reader answered {len(got)} hashes for {len(ids)} nodes")
    for node, h in zip(ids, got, strict=True):
        if len(h) != HASH_SIZE:
            raise IntegrityError(f"node `{node}` has a hash of {len(h)} bytes, not {HASH_SIZE}")
    return got


def root_at(size: int, get_nodes: GetNodes) -> bytes:
    """MTH of the first ``size`` leaves, from O(log size) complete-subtree reads."""
    return fold(read_nodes(get_nodes, range_nodes(0, size)))


class Frontier:
    """The right edge of a tree of ``size`` leaves: one complete subtree per set bit of ``size``."""

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self._size = size
        self._hashes = list(hashes)
        if size < 0 or len(self._hashes) != size.bit_count():
            raise IntegrityError(
                f"a frontier of size `{size}` needs {max(size, 0).bit_count()} hashes, got {len(self._hashes)}"
            )

    @classmethod
    def load(cls, size: int, get_nodes: GetNodes) -> Frontier:
        """The frontier at ``size`` from the stored complete subtrees (O(log size) reads)."""
        return cls(size, read_nodes(get_nodes, range_nodes(0, size)))

    @property
    def size(self) -> int:
        return self._size

    def nodes(self) -> list[tuple[int, int, bytes]]:
        """``(level, index, hash)`` of the frontier subtrees, left to right."""
        return [(lv, ix, h) for (lv, ix), h in zip(range_nodes(0, self._size), self._hashes, strict=True)]

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf; return the interior nodes ``(level, index, hash)`` it completes, bottom up."""
        completed: list[tuple[int, int, bytes]] = []
        hashes = self._hashes
        idx = self._size
        level = 0
        h = leaf_hash
        while idx & 1:
            h = hash_children(hashes.pop(), h)
            idx >>= 1
            level += 1
            completed.append((level, idx, h))
        hashes.append(h)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """MTH of the whole tree so far."""
        return fold(self._hashes)
