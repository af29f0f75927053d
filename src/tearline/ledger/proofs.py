"""Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4) over a node reader.

The RFC defines ``PATH`` and ``SUBPROOF`` recursively over leaf ranges. Walked top-down, each step
contributes the hash of one sibling range; every such range is a complete subtree except at most
one, the first right sibling met when the walk leaves the right edge of the tree. That one is
computed from the complete subtrees tiling it (:func:`tearline.ledger.tree.range_nodes`). So a proof
costs one batched call to ``get_nodes`` for O(log n) ``(level, index)`` ids, and this module never
touches storage: the store (or an in-memory list, or a test) supplies ``get_nodes``.

Verification is re-exported from :mod:`tearline.ledger.verify`, the standalone verifier, so the
node and its partners run one copy of those checks.
"""

from __future__ import annotations

from tearline.errors import InvalidInput
from tearline.ledger.tree import GetNodes, NodeId, fold, range_nodes, read_nodes, split_point
from tearline.ledger.verify import (
    VerificationError,
    root_from_inclusion_path,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "VerificationError",
    "consistency_proof",
    "consistency_ranges",
    "inclusion_proof",
    "inclusion_ranges",
    "root_from_inclusion_path",
    "verify_consistency",
    "verify_inclusion",
]

Range = tuple[int, int]


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """Leaf ranges ``[begin, end)`` whose hashes form ``PATH(index, D[0:size])``, in proof order."""
    if not 0 <= index < size:
        raise InvalidInput(f"leaf `{index}` is not in a tree of size `{size}`")
    ranges: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index < lo + k:  # PATH(m, D[0:k]) : MTH(D[k:n])
            ranges.append((lo + k, hi))
            hi = lo + k
        else:  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()  # the recursion emits the deepest sibling first
    return ranges


def consistency_ranges(first: int, second: int) -> list[Range]:
    """Leaf ranges whose hashes form ``PROOF(first, D[0:second])``, in proof order."""
    if not 0 < first <= second:
        raise InvalidInput(f"no consistency proof from size `{first}` to size `{second}`")
    ranges: list[Range] = []
    lo, hi, m, whole = 0, second, first, True
    while True:
        n = hi - lo
        if m == n:  # SUBPROOF(m, D[m], b): [] if b else [MTH(D[m])]
            if not whole:
                ranges.append((lo, hi))
            break
        k = split_point(n)
        if m <= k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            ranges.append((lo + k, hi))
            hi = lo + k
        else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            ranges.append((lo, lo + k))
            lo += k
            m -= k
            whole = False
    ranges.reverse()
    return ranges


def _resolve(ranges: list[Range], get_nodes: GetNodes) -> list[bytes]:
    """Hashes of the ranges, from one batched read of the complete subtrees that tile them."""
    tilings = [range_nodes(lo, hi) for lo, hi in ranges]
    ids: list[NodeId] = [node for tiling in tilings for node in tiling]
    hashes = read_nodes(get_nodes, ids)
    out: list[bytes] = []
    at = 0
    for tiling in tilings:
        out.append(fold(hashes[at : at + len(tiling)]))
        at += len(tiling)
    return out


def inclusion_proof(index: int, size: int, get_nodes: GetNodes) -> list[bytes]:
    """The RFC 9162 inclusion path of leaf ``index`` in the tree of ``size`` leaves."""
    return _resolve(inclusion_ranges(index, size), get_nodes)


def consistency_proof(first: int, second: int, get_nodes: GetNodes) -> list[bytes]:
    """The RFC 9162 consistency proof between the trees of ``first`` and ``second`` leaves."""
    return _resolve(consistency_ranges(first, second), get_nodes)
