"""The ledger repository: leaves, complete-subtree nodes and signed heads in SQL.

Every function takes a SQLAlchemy Core ``Connection`` already inside a transaction; the caller owns
the transaction. Appends must be serialised: on PostgreSQL :func:`append_leaves` takes a
transaction-scoped advisory lock (a fixed key) first, so any number of processes append to one
log; on SQLite the caller opens the transaction with ``BEGIN IMMEDIATE``.

Storage layout: ``ledger_leaves`` holds each leaf's JCS bytes and its leaf hash (the level-0
nodes); ``ledger_nodes`` holds the hash of every complete subtree of level >= 1, written once, when
its last leaf is appended. A root or proof at any size then costs O(log n) reads (see
:mod:`tearline.ledger.tree`); the proof code only sees :func:`node_reader`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Table, TextClause, func, select, text
from sqlalchemy import exc as sa_exc

from tearline.errors import Conflict, IntegrityError, InvalidInput, StorageError
from tearline.ledger import leaves as leafmod
from tearline.ledger import proofs
from tearline.ledger.checkpoint import SignedHead
from tearline.ledger.hashing import EMPTY_ROOT, hash_leaf
from tearline.ledger.tree import Frontier, GetNodes, NodeId, root_at
from tearline.ledger.verify import VerificationError, verify_head
from tearline.store.schema import ledger_heads, ledger_leaves, ledger_nodes

ADVISORY_LOCK_KEY = 0x7465_6172_6C69_6E65  # "tearline"; one log per database
_L, _N, _H = ledger_leaves.c, ledger_nodes.c, ledger_heads.c


@dataclass(frozen=True)
class StoredLeaf:
    seq: int
    kind: str
    partner: str | None
    at_us: int
    leaf: bytes
    leaf_hash: bytes


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})


def size(conn: Connection) -> int:
    """Number of leaves in the log."""
    return int(conn.execute(select(func.coalesce(func.max(_L.seq), -1) + 1)).scalar_one())


@lru_cache(maxsize=256)
def _nodes_sql(n_leaves: int, n_inner: int) -> TextClause:
    # One statement for any set of ids: leaf hashes by seq, interior nodes by a join on a VALUES
    # list, which both SQLite and PostgreSQL answer with primary-key lookups (a row-value IN
    # list is a full scan on SQLite).
    parts = []
    cte = ""
    if n_inner:
        rows = ", ".join(
            f"(CAST(:l{i} AS INTEGER), CAST(:i{i} AS BIGINT))" if i == 0 else f"(:l{i}, :i{i})" for i in range(n_inner)
        )
        cte = f"WITH w (level, idx) AS (VALUES {rows}) "
        parts.append("SELECT n.level, n.idx, n.hash FROM w JOIN ledger_nodes n ON n.level = w.level AND n.idx = w.idx")
    if n_leaves:
        seqs = ", ".join(f":s{i}" for i in range(n_leaves))
        parts.append(f"SELECT 0, seq, leaf_hash FROM ledger_leaves WHERE seq IN ({seqs})")
    return text(cte + " UNION ALL ".join(parts))


def node_reader(conn: Connection) -> GetNodes:
    """A ``get_nodes`` over this connection: one indexed statement per call, whatever the ids."""

    def get_nodes(ids: Sequence[NodeId]) -> list[bytes]:
        seqs = sorted({ix for lv, ix in ids if lv == 0})
        inner = sorted({(lv, ix) for lv, ix in ids if lv > 0})
        if not ids:
            return []
        params: dict[str, int] = {f"s{i}": seq for i, seq in enumerate(seqs)}
        for i, (lv, ix) in enumerate(inner):
            params[f"l{i}"] = lv
            params[f"i{i}"] = ix
        found = {(lv, ix): h for lv, ix, h in conn.execute(_nodes_sql(len(seqs), len(inner)), params)}
        try:
            return [found[node] for node in ids]
        except KeyError as exc:
            raise IntegrityError(f"ledger node `{exc.args[0]}` is missing") from None

    return get_nodes


def _insert_sql(conn: Connection, table: Table) -> str:
    # executemany straight to the driver: SQLAlchemy's per-row parameter processing would cost
    # more than hashing and encoding the leaf (bench/ledger.py).
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    cols = [c.name for c in table.columns]
    return f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"


def append_leaves(conn: Connection, leaves: Sequence[Mapping[str, Any]]) -> range:
    """Append unsequenced leaves (see :mod:`tearline.ledger.leaves`); return the seqs assigned."""
    _lock(conn)
    start = size(conn)
    frontier = Frontier.load(start, node_reader(conn))
    leaf_rows: list[tuple[Any, ...]] = []
    node_rows: list[tuple[int, int, bytes]] = []
    for seq, leaf in enumerate(leaves, start):
        full = leafmod.sequenced(leaf, seq)
        kind, partner, at_us = leafmod.check(full)
        data = leafmod.encode(full)
        h = hash_leaf(data)
        leaf_rows.append((seq, kind, partner, at_us, data, h))
        node_rows.extend(frontier.append(h))
    try:
        if leaf_rows:
            conn.exec_driver_sql(_insert_sql(conn, ledger_leaves), leaf_rows)
        if node_rows:
            conn.exec_driver_sql(_insert_sql(conn, ledger_nodes), node_rows)
    except sa_exc.IntegrityError:
        raise Conflict("another writer appended to the ledger at the same time; retry") from None
    except sa_exc.DBAPIError as exc:
        raise StorageError(f"ledger append failed ({type(exc.orig).__name__})") from None
    return range(start, start + len(leaf_rows))


def _check_size(conn: Connection, tree_size: int) -> None:
    current = size(conn)
    if not 0 <= tree_size <= current:
        raise InvalidInput(f"tree size `{tree_size}` is not within the ledger's {current} leaves")


def root(conn: Connection, tree_size: int | None = None) -> bytes:
    """MTH of the first ``tree_size`` leaves (all of them by default)."""
    if tree_size is None:
        tree_size = size(conn)
    else:
        _check_size(conn, tree_size)
    return root_at(tree_size, node_reader(conn))


def inclusion_proof(conn: Connection, seq: int, tree_size: int) -> list[bytes]:
    """RFC 9162 inclusion path of leaf ``seq`` in the tree of ``tree_size`` leaves."""
    _check_size(conn, tree_size)
    return proofs.inclusion_proof(seq, tree_size, node_reader(conn))


def consistency_proof(conn: Connection, first: int, second: int) -> list[bytes]:
    """RFC 9162 consistency proof from the tree of ``first`` leaves to that of ``second``."""
    _check_size(conn, second)
    return proofs.consistency_proof(first, second, node_reader(conn))


def store_head(conn: Connection, head: SignedHead) -> None:
    """Keep a signed head; its root must be the ledger's root at its size (origin is not stored)."""
    _check_size(conn, head.size)
    if root(conn, head.size) != head.root:
        raise IntegrityError(f"head root does not match the ledger at size {head.size}")
    row = {
        "size": head.size,
        "root": head.root,
        "timestamp_us": head.timestamp_us,
        "signature": head.signature,
    }
    existing = conn.execute(select(ledger_heads).where(_H.size == head.size)).mappings().first()
    if existing is not None:
        if dict(existing) != row:
            raise Conflict(f"a different head of size `{head.size}` is already stored")
        return
    conn.execute(ledger_heads.insert(), row)


def _head(origin: str, row: Any) -> SignedHead:
    return SignedHead(origin, row.size, row.root, row.timestamp_us, row.signature)


def latest_head(conn: Connection, origin: str) -> SignedHead | None:
    """The stored head of the largest size, or None."""
    row = conn.execute(select(ledger_heads).order_by(_H.size.desc()).limit(1)).first()
    return None if row is None else _head(origin, row)


def list_heads(conn: Connection, origin: str, *, after_size: int = -1, limit: int = 1000) -> list[SignedHead]:
    """Heads by increasing size, a keyset page after ``after_size``."""
    q = select(ledger_heads).where(_H.size > after_size).order_by(_H.size).limit(limit)
    return [_head(origin, row) for row in conn.execute(q)]


def leaf_hashes(conn: Connection, start: int, end: int) -> list[bytes]:
    """Leaf hashes of seqs ``[start, end)``, which must all exist."""
    _check_size(conn, end)
    q = select(_L.leaf_hash).where(_L.seq >= start, _L.seq < end).order_by(_L.seq)
    out = list(conn.execute(q).scalars())
    if len(out) != max(end - start, 0):
        raise IntegrityError(f"ledger leaves `[{start}, {end})` are not all stored")
    return out


def _leaf(row: Any) -> StoredLeaf:
    return StoredLeaf(row.seq, row.kind, row.partner, row.at_us, row.leaf, row.leaf_hash)


def get_leaves(conn: Connection, start: int, end: int) -> list[StoredLeaf]:
    """Stored leaves with seq in ``[start, end)``, in order."""
    q = select(ledger_leaves).where(_L.seq >= start, _L.seq < end).order_by(_L.seq)
    return [_leaf(row) for row in conn.execute(q)]


def partner_leaves(conn: Connection, partner: str, *, after_seq: int = -1, limit: int = 1000) -> list[StoredLeaf]:
    """A partner's own leaves, a keyset page after ``after_seq``."""
    q = select(ledger_leaves).where(_L.partner == partner, _L.seq > after_seq).order_by(_L.seq).limit(limit)
    return [_leaf(row) for row in conn.execute(q)]


def iter_leaves(conn: Connection, start: int = 0, batch: int = 10_000) -> Iterator[StoredLeaf]:
    """Every leaf from ``start`` on, in seq order, read in keyset pages of ``batch``."""
    after = start - 1
    while True:
        q = select(ledger_leaves).where(_L.seq > after).order_by(_L.seq).limit(batch)
        rows = [_leaf(row) for row in conn.execute(q)]
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].seq


@dataclass(frozen=True)
class FsckProblem:
    """The first bad entry: the first bad seq, and the head size when a head is at fault."""

    seq: int | None
    head_size: int | None
    reason: str


@dataclass(frozen=True)
class FsckReport:
    leaves: int
    heads: int
    problem: FsckProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Bad(Exception):
    def __init__(self, seq: int | None, reason: str, head_size: int | None = None) -> None:
        super().__init__(reason)
        self.problem = FsckProblem(seq, head_size, reason)


def verify_store(conn: Connection, public_key: Ed25519PublicKey, origin: str) -> FsckReport:
    """Recompute every leaf hash, node and head root from the stored leaves; name the first bad entry.

    Leaves are read in seq order beside the nodes in the order they were completed (a node
    ``(level, idx)`` completes with leaf ``((idx + 1) << level) - 1``), so both streams are merged
    in one pass and the first problem found is the one with the lowest seq.
    """
    heads = {row.size: row for row in conn.execute(select(ledger_heads).order_by(_H.size))}
    done = ((_N.idx + 1).op("<<")(_N.level), _N.level)
    nodes_q = select(_N.level, _N.idx, _N.hash).order_by(*done)
    leaves_q = select(ledger_leaves).order_by(_L.seq)
    streaming = {"stream_results": True, "yield_per": 5000}  # per statement: never set on `conn`
    frontier = Frontier()
    try:
        with (
            conn.execute(nodes_q, execution_options=streaming) as node_rows,
            conn.execute(leaves_q, execution_options=streaming) as leaf_rows,
        ):
            _merge(frontier, iter(node_rows), leaf_rows, heads, public_key, origin)
    except _Bad as bad:
        return FsckReport(frontier.size, len(heads), bad.problem)
    return FsckReport(frontier.size, len(heads), None)


def _merge(
    frontier: Frontier,
    nodes: Iterator[Any],
    leaf_rows: Iterable[Any],
    heads: dict[int, Any],
    public_key: Ed25519PublicKey,
    origin: str,
) -> None:
    nxt = next(nodes, None)
    if 0 in heads:
        _check_head(heads[0], EMPTY_ROOT, public_key, origin)
    for row in leaf_rows:
        seq = frontier.size
        if row.seq != seq:
            raise _Bad(seq, f"leaf {seq} is missing (the next stored leaf is {row.seq})")
        _check_leaf(row)
        for lv, ix, h in frontier.append(row.leaf_hash):
            if nxt is None or (nxt.level, nxt.idx) != (lv, ix):
                found = "none" if nxt is None else f"({nxt.level}, {nxt.idx})"
                raise _Bad(ix << lv, f"node ({lv}, {ix}) is missing; found {found}")
            if nxt.hash != h:
                span = f"[{ix << lv}, {(ix + 1) << lv})"
                raise _Bad(ix << lv, f"node ({lv}, {ix}) over leaves {span} differs from its recomputation")
            nxt = next(nodes, None)
        if frontier.size in heads:
            _check_head(heads[frontier.size], frontier.root(), public_key, origin)
    n = frontier.size
    if nxt is not None:
        raise _Bad(n, f"node ({nxt.level}, {nxt.idx}) covers leaves past the last stored leaf {n - 1}")
    beyond = [s for s in heads if s > n]
    if beyond:
        raise _Bad(n, f"head of size {beyond[0]} is beyond the {n} stored leaves", beyond[0])


def _check_leaf(row: Any) -> None:
    seq = row.seq
    if hash_leaf(row.leaf) != row.leaf_hash:
        raise _Bad(seq, f"leaf {seq} does not match its stored leaf hash")
    try:
        obj = orjson.loads(row.leaf)
        if not isinstance(obj, dict):
            raise InvalidInput("not an object")
        if obj.get("seq") != seq:
            raise _Bad(seq, f"leaf {seq} records seq `{obj.get('seq')}`: rows reordered or altered")
        columns = leafmod.check(obj)
        canonical = leafmod.encode(obj) == row.leaf
    except (orjson.JSONDecodeError, InvalidInput) as exc:
        raise _Bad(seq, f"leaf {seq} is not a valid leaf: {exc}") from None
    if not canonical:
        raise _Bad(seq, f"leaf {seq} is not in canonical form")
    if columns != (row.kind, row.partner, row.at_us):
        raise _Bad(seq, f"leaf {seq}: kind, partner or time columns differ from the leaf")


def _check_head(row: Any, recomputed: bytes, public_key: Ed25519PublicKey, origin: str) -> None:
    last = row.size - 1 if row.size else None
    if row.root != recomputed:
        raise _Bad(last, f"head of size {row.size} has a root that differs from the leaves", row.size)
    try:
        verify_head(_head(origin, row), public_key)
    except VerificationError as exc:
        raise _Bad(last, str(exc), row.size) from None


def kind_leaves(conn: Connection, kind: str, partner: str, since_us: int) -> list[StoredLeaf]:
    """A partner's leaves of one kind from ``since_us`` on (the PSI budget's day window)."""
    t = ledger_leaves
    rows = conn.execute(
        select(t).where(t.c.partner == partner, t.c.kind == kind, t.c.at_us >= since_us).order_by(t.c.seq)
    )
    return [_leaf(r) for r in rows]
