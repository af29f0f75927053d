"""The ledger repository on SQLite (always) and PostgreSQL (when TEARLINE_TEST_POSTGRES_URL is set).

Store-backed roots and proofs are cross-checked against a literal transcription of RFC 9162 §2.1,
and ``verify_store`` must name the right seq (or head size) for each kind of tampering.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, create_engine, delete, event, select, text, update

from tearline.errors import Conflict, IntegrityError, InvalidInput
from tearline.ledger import leaves as L
from tearline.ledger.checkpoint import sign_head
from tearline.ledger.proofs import verify_consistency, verify_inclusion
from tearline.store import ledger as repo
from tearline.store import schema

KEY = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
ORIGIN = "TEST-NODE"
T0 = datetime(2026, 11, 29, tzinfo=UTC)
TABLES = [schema.ledger_leaves, schema.ledger_nodes, schema.ledger_heads]

# --- RFC 9162 §2.1, literally (shares no code with tearline.ledger) -----------------------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [ref_mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


# --- engines -------------------------------------------------------------------------------------


def _sqlite(path: str) -> Engine:
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None  # let the begin hook below issue BEGIN IMMEDIATE

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = _sqlite(str(tmp_path / "ledger.db"))
        schema.metadata.create_all(eng, tables=TABLES)
        yield eng
        eng.dispose()
        return
    url = os.environ.get("TEARLINE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TEARLINE_TEST_POSTGRES_URL is not set; postgresql contract tests not run")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    eng = create_engine(url)

    @event.listens_for(eng, "connect")
    def _path(dbapi_conn: Any, _rec: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET search_path TO {name}")
        dbapi_conn.commit()

    schema.metadata.create_all(eng, tables=TABLES)
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


def make_leaf(i: int) -> dict[str, Any]:
    partner = ("GBR", "CAN", "AUS")[i % 3]
    at = T0 + timedelta(seconds=i)
    if i % 7 == 3:
        return L.reveal_leaf(time=at, source=f"src-{i}", by="officer", reason="audit")
    return L.release_leaf(
        time=at,
        partner=partner,
        object_id=f"indicator--{i}",
        version="2026-11-01T00:00:00.000Z",
        sha256=hashlib.sha256(str(i).encode()).hexdigest(),
        verdict="RELEASE",
        reasons=["OWN_OBJECT"],
    )


def fill(engine: Engine, batches: Sequence[int], start: int = 0) -> None:
    i = start
    for n in batches:
        with engine.begin() as conn:
            got = repo.append_leaves(conn, [make_leaf(j) for j in range(i, i + n)])
            assert got == range(i, i + n)
        i += n


def add_head(engine: Engine, size: int) -> None:
    with engine.begin() as conn:
        repo.store_head(conn, sign_head(KEY, ORIGIN, size, repo.root(conn, size), 1_000 + size))


def stored(engine: Engine) -> list[bytes]:
    with engine.begin() as conn:
        return [leaf.leaf for leaf in repo.iter_leaves(conn, batch=7)]


def test_store_roots_and_proofs_match_the_rfc_for_every_size(engine: Engine) -> None:
    fill(engine, [1, 2, 5, 13, 43])
    data = stored(engine)
    assert len(data) == 64
    with engine.begin() as conn:
        assert repo.size(conn) == 64
        for n in range(1, 65):
            root = ref_mth(data[:n])
            assert repo.root(conn, n) == root
            for m in range(n):
                path = repo.inclusion_proof(conn, m, n)
                assert path == ref_path(m, data[:n])
                verify_inclusion(m, n, hashlib.sha256(b"\x00" + data[m]).digest(), path, root)
            for m in range(1, n + 1):
                proof = repo.consistency_proof(conn, m, n)
                assert proof == ref_subproof(m, data[:n], True)
                verify_consistency(m, n, ref_mth(data[:m]), root, proof)


def test_store_random_larger_sizes(engine: Engine) -> None:
    rng = random.Random(8785)
    fill(engine, [rng.randrange(1, 300) for _ in range(8)])
    data = stored(engine)
    with engine.begin() as conn:
        for _ in range(10):
            n = rng.randrange(1, len(data) + 1)
            m = rng.randrange(n)
            assert repo.inclusion_proof(conn, m, n) == ref_path(m, data[:n])
            first = rng.randrange(1, n + 1)
            assert repo.consistency_proof(conn, first, n) == ref_subproof(first, data[:n], True)


def test_a_proof_is_a_few_statements_whatever_the_size(engine: Engine) -> None:
    fill(engine, [1000, 23])
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    with engine.begin() as conn:
        statements.clear()
        repo.inclusion_proof(conn, 517, 1023)
        assert len(statements) <= 3  # size check, leaf hashes, node hashes
        statements.clear()
        repo.consistency_proof(conn, 700, 1023)
        assert len(statements) <= 3
    event.remove(engine, "before_cursor_execute", count)


def test_leaves_columns_pages_and_ranges(engine: Engine) -> None:
    fill(engine, [10, 11])
    with engine.begin() as conn:
        mine = repo.partner_leaves(conn, "CAN", limit=3)
        assert [leaf.seq for leaf in mine] == [1, 4, 7]
        more = repo.partner_leaves(conn, "CAN", after_seq=7, limit=100)
        assert [leaf.seq for leaf in more] == [13, 16, 19]
        assert all(leaf.kind == "release" and leaf.partner == "CAN" for leaf in mine + more)
        reveal = repo.get_leaves(conn, 3, 4)[0]
        assert (reveal.kind, reveal.partner) == ("reveal", None)
        assert reveal.at_us == int((T0 + timedelta(seconds=3)).timestamp()) * 1_000_000
        hashes = repo.leaf_hashes(conn, 5, 9)
        assert hashes == [hashlib.sha256(b"\x00" + leaf.leaf).digest() for leaf in repo.get_leaves(conn, 5, 9)]
        with pytest.raises(InvalidInput):
            repo.leaf_hashes(conn, 5, 22)
        with pytest.raises(InvalidInput):
            repo.inclusion_proof(conn, 0, 22)
    assert [L.check(json.loads(d))[0] for d in stored(engine)][:4] == [
        "release",
        "release",
        "release",
        "reveal",
    ]


def test_append_refuses_a_leaf_naming_another_seq(engine: Engine) -> None:
    fill(engine, [3])
    with pytest.raises(InvalidInput), engine.begin() as conn:
        repo.append_leaves(conn, [make_leaf(3), {**make_leaf(4), "seq": 9}])
    with engine.begin() as conn:
        assert repo.size(conn) == 3


def test_heads_are_checked_kept_and_listed(engine: Engine) -> None:
    fill(engine, [5, 6])
    add_head(engine, 5)
    add_head(engine, 11)
    add_head(engine, 11)  # the same head again is a no-op
    with engine.begin() as conn:
        latest = repo.latest_head(conn, ORIGIN)
        assert latest is not None and latest.size == 11 and latest.root == repo.root(conn)
        assert [h.size for h in repo.list_heads(conn, ORIGIN)] == [5, 11]
        assert [h.size for h in repo.list_heads(conn, ORIGIN, after_size=5)] == [11]
        with pytest.raises(Conflict):
            repo.store_head(conn, sign_head(KEY, ORIGIN, 11, repo.root(conn), 99))
        with pytest.raises(IntegrityError):
            repo.store_head(conn, sign_head(KEY, ORIGIN, 10, repo.root(conn, 11), 99))
    with engine.begin() as conn:
        report = repo.verify_store(conn, KEY.public_key(), ORIGIN)
    assert report.ok and (report.leaves, report.heads) == (11, 2)


def test_concurrent_appenders_make_one_log(engine: Engine) -> None:
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for b in range(8):
                with engine.begin() as conn:
                    repo.append_leaves(conn, [make_leaf(offset + b * 10 + j) for j in range(10)])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k * 1000,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    add_head(engine, 240)
    with engine.begin() as conn:
        assert repo.size(conn) == 240
        assert repo.verify_store(conn, KEY.public_key(), ORIGIN).ok


# --- tampering: one vector per kind, each must name the right seq ---------------------------------

LV, NV, HV = schema.ledger_leaves, schema.ledger_nodes, schema.ledger_heads


def _swap(conn: Any, a: int, b: int) -> None:
    rows = {r.seq: r for r in conn.execute(select(LV).where(LV.c.seq.in_([a, b])))}
    for dst, src in ((a, b), (b, a)):
        r = rows[src]
        values = {"kind": r.kind, "partner": r.partner, "at_us": r.at_us, "leaf": r.leaf, "leaf_hash": r.leaf_hash}
        conn.execute(update(LV).where(LV.c.seq == dst).values(**values))


def _alter_leaf(conn: Any, seq: int, *, rehash: bool) -> None:
    leaf = conn.execute(select(LV.c.leaf).where(LV.c.seq == seq)).scalar_one()
    forged = leaf.replace(b'"RELEASE"', b'"WITHHOLD"')
    assert forged != leaf
    values: dict[str, Any] = {"leaf": forged}
    if rehash:
        values["leaf_hash"] = hashlib.sha256(b"\x00" + forged).digest()
    conn.execute(update(LV).where(LV.c.seq == seq).values(**values))


TAMPER = {
    "altered leaf": (lambda c: _alter_leaf(c, 37, rehash=False), 37, None, "does not match its stored leaf hash"),
    "altered leaf and leaf hash": (lambda c: _alter_leaf(c, 37, rehash=True), 36, None, "[36, 38)"),
    "altered leaf hash": (
        lambda c: c.execute(update(LV).where(LV.c.seq == 50).values(leaf_hash=bytes(32))),
        50,
        None,
        "leaf hash",
    ),
    "altered node": (
        lambda c: c.execute(update(NV).where(NV.c.level == 3, NV.c.idx == 2).values(hash=bytes(32))),
        16,
        None,
        "node (3, 2)",
    ),
    "altered head root": (
        lambda c: c.execute(update(HV).where(HV.c.size == 32).values(root=bytes(32))),
        31,
        32,
        "root",
    ),
    "altered head signature": (
        lambda c: c.execute(update(HV).where(HV.c.size == 48).values(signature=bytes(64))),
        47,
        48,
        "signature",
    ),
    "deleted leaf": (lambda c: c.execute(delete(LV).where(LV.c.seq == 20)), 20, None, "missing"),
    "deleted last leaf": (lambda c: c.execute(delete(LV).where(LV.c.seq == 63)), 63, None, "past the last"),
    "deleted node": (
        lambda c: c.execute(delete(NV).where(NV.c.level == 1, NV.c.idx == 5)),
        10,
        None,
        "node (1, 5) is missing",
    ),
    "swapped leaves": (lambda c: _swap(c, 40, 41), 40, None, "reordered"),
    "altered partner column": (
        lambda c: c.execute(update(LV).where(LV.c.seq == 44).values(partner="NZL")),
        44,
        None,
        "columns",
    ),
}


@pytest.mark.parametrize("kind", list(TAMPER))
def test_verify_store_names_the_first_bad_entry(engine: Engine, kind: str) -> None:
    fill(engine, [30, 34])
    for size in (32, 48, 64):
        add_head(engine, size)
    with engine.begin() as conn:
        assert repo.verify_store(conn, KEY.public_key(), ORIGIN).ok
    tamper, seq, head_size, words = TAMPER[kind]
    with engine.begin() as conn:
        tamper(conn)
    with engine.begin() as conn:
        report = repo.verify_store(conn, KEY.public_key(), ORIGIN)
    assert report.problem is not None, kind
    assert (report.problem.seq, report.problem.head_size) == (seq, head_size), report.problem
    assert words in report.problem.reason


def test_verify_store_refuses_heads_of_another_key(engine: Engine) -> None:
    fill(engine, [9])
    add_head(engine, 9)
    with engine.begin() as conn:
        report = repo.verify_store(conn, Ed25519PrivateKey.generate().public_key(), ORIGIN)
    assert report.problem is not None and report.problem.head_size == 9
