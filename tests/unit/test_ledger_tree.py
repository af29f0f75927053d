"""The fast tree and proof code against a naive transcription of RFC 9162 §2.1.

The reference below (MTH, PATH, PROOF/SUBPROOF) is the RFC's recursive definitions written out
literally, with its own hashing and its own split point, sharing no code with tearline.ledger.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tearline.errors import IntegrityError, InvalidInput
from tearline.ledger import hashing, verify
from tearline.ledger.proofs import (
    VerificationError,
    consistency_proof,
    inclusion_proof,
    root_from_inclusion_path,
    verify_consistency,
    verify_inclusion,
)
from tearline.ledger.tree import Frontier, NodeId, range_nodes, root_at, split_point

# --- RFC 9162 §2.1, literally -------------------------------------------------------------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _k(n)
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True)


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


# --- an in-memory node store built by the fast append path ---------------------------------------


class MemoryNodes:
    def __init__(self, data: Sequence[bytes]) -> None:
        self.frontier = Frontier()
        self.nodes: dict[NodeId, bytes] = {}
        self.reads: list[int] = []
        for i, leaf in enumerate(data):
            h = hashing.hash_leaf(leaf)
            self.nodes[(0, i)] = h
            for lv, ix, nh in self.frontier.append(h):
                assert (lv, ix) not in self.nodes
                self.nodes[(lv, ix)] = nh

    def __call__(self, ids: Sequence[NodeId]) -> list[bytes]:
        self.reads.append(len(ids))
        return [self.nodes[i] for i in ids]


def leaves(n: int) -> list[bytes]:
    return [f'{{"seq":{i}}}'.encode() for i in range(n)]


BIG = leaves(64)
MEM = MemoryNodes(BIG)


def test_split_point_is_largest_power_of_two_below() -> None:
    for n in range(2, 2000):
        assert split_point(n) == _k(n)
    with pytest.raises(InvalidInput):
        split_point(1)


def test_hashes_are_domain_separated_and_match_the_standalone_verifier() -> None:
    assert hashing.hash_leaf(b"ab") == hashlib.sha256(b"\x00ab").digest()
    assert hashing.hash_children(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert hashing.hash_leaf(b"\x01ab") != hashing.hash_children(b"a", b"b")
    for data in (b"", b"x", b"\x00" * 64):
        assert verify.hash_leaf(data) == hashing.hash_leaf(data)
        assert verify.hash_children(data, data[::-1]) == hashing.hash_children(data, data[::-1])


def test_empty_root_is_hash_of_nothing() -> None:
    assert Frontier().root() == ref_mth([]) == hashing.EMPTY_ROOT


@pytest.mark.parametrize("n", range(1, 65))
def test_roots_and_inclusion_proofs_match_the_rfc(n: int) -> None:
    d = BIG[:n]
    root = ref_mth(d)
    assert root_at(n, MEM) == root
    for m in range(n):
        path = inclusion_proof(m, n, MEM)
        assert path == ref_path(m, d), (m, n)
        verify_inclusion(m, n, hashing.hash_leaf(d[m]), path, root)
        assert root_from_inclusion_path(m, n, hashing.hash_leaf(d[m]), path) == root


@pytest.mark.parametrize("n", range(1, 65))
def test_consistency_proofs_match_the_rfc(n: int) -> None:
    d = BIG[:n]
    for m in range(1, n + 1):
        proof = consistency_proof(m, n, MEM)
        assert proof == ref_proof(m, d), (m, n)
        verify_consistency(m, n, ref_mth(d[:m]), ref_mth(d), proof)


def test_random_larger_trees_match_the_rfc() -> None:
    rng = random.Random(9162)
    data = leaves(3000)
    mem = MemoryNodes(data)
    for _ in range(12):
        n = rng.randrange(65, len(data) + 1)
        d = data[:n]
        root = ref_mth(d)
        assert root_at(n, mem) == root
        m = rng.randrange(n)
        assert inclusion_proof(m, n, mem) == ref_path(m, d)
        first = rng.randrange(1, n + 1)
        assert consistency_proof(first, n, mem) == ref_proof(first, d)


def test_proofs_read_logarithmically_many_nodes_in_one_call() -> None:
    n = 1_000_003
    mem_reads: list[int] = []

    def counting(ids: Sequence[NodeId]) -> list[bytes]:
        mem_reads.append(len(ids))
        return [bytes(32)] * len(ids)

    inclusion_proof(n - 2, n, counting)
    consistency_proof(12345, n, counting)
    assert len(mem_reads) == 2
    assert max(mem_reads) <= 2 * n.bit_length()


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=600))
def test_frontier_root_and_completed_nodes(n: int) -> None:
    mem = MemoryNodes(leaves(n))
    assert mem.frontier.root() == ref_mth(leaves(n))
    # Exactly the complete subtrees were written, each once.
    expected = {(lv, ix) for lv in range(1, n.bit_length() + 1) for ix in range(n >> lv)}
    assert {k for k in mem.nodes if k[0] > 0} == expected
    reloaded = Frontier.load(n, mem)
    assert reloaded.root() == mem.frontier.root()
    assert reloaded.nodes() == mem.frontier.nodes()


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=5000), st.integers(min_value=0, max_value=5000))
def test_range_nodes_tile_the_range(a: int, b: int) -> None:
    lo, hi = min(a, b), max(a, b)
    at = lo
    for lv, ix in range_nodes(lo, hi):
        assert ix << lv == at
        at += 1 << lv
    assert at == hi


def test_bad_requests_are_refused() -> None:
    with pytest.raises(InvalidInput):
        inclusion_proof(5, 5, MEM)
    with pytest.raises(InvalidInput):
        consistency_proof(0, 5, MEM)
    with pytest.raises(InvalidInput):
        consistency_proof(6, 5, MEM)
    with pytest.raises(IntegrityError):
        inclusion_proof(0, 8, lambda ids: [])
    with pytest.raises(IntegrityError):
        inclusion_proof(0, 8, lambda ids: [b"short"] * len(ids))
    with pytest.raises(IntegrityError):
        Frontier(3, [bytes(32)])


# --- verification refuses what it must ------------------------------------------------------------


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 64])
def test_inclusion_verification_rejects_tampering(n: int) -> None:
    d = BIG[:n]
    root = ref_mth(d)
    for m in range(n):
        lh = hashing.hash_leaf(d[m])
        path = ref_path(m, d)
        bad_cases: list[tuple[int, int, bytes, list[bytes]]] = [(m, n, _flip(lh), path), (m, 2 * n, lh, path)]
        if path:
            bad_cases += [(m, n, lh, path[:-1]), (m, n, lh, [_flip(path[0]), *path[1:]])]
        bad_cases.append((m, n, lh, [*path, root]))
        if n > 1:
            bad_cases.append(((m + 1) % n, n, lh, path))
        for args in bad_cases:
            with pytest.raises(VerificationError):
                verify_inclusion(*args, root)
    with pytest.raises(VerificationError):
        verify_inclusion(n, n, bytes(32), [], root)


@pytest.mark.parametrize("n", [2, 3, 7, 8, 9, 33, 64])
def test_consistency_verification_rejects_tampering(n: int) -> None:
    d = BIG[:n]
    second = ref_mth(d)
    for m in range(1, n):
        first = ref_mth(d[:m])
        proof = ref_proof(m, d)
        verify_consistency(m, n, first, second, proof)
        for bad in (proof[:-1], [*proof, second], [_flip(proof[0]), *proof[1:]], []):
            with pytest.raises(VerificationError):
                verify_consistency(m, n, first, second, bad)
        with pytest.raises(VerificationError):
            verify_consistency(m, n, _flip(first), second, proof)
        with pytest.raises(VerificationError):
            verify_consistency(m, n, first, _flip(second), proof)
    verify_consistency(n, n, second, second, [])
    with pytest.raises(VerificationError):
        verify_consistency(n, n, second, _flip(second), [])
    with pytest.raises(VerificationError):
        verify_consistency(n, n - 1, second, second, [])
