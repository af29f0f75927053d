"""Stored object versions: canonical JSON bytes plus the indexed and label columns."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, distinct, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from tearline.store.schema import objects


class NewVersion(NamedTuple):
    """One object version ready to store (label columns already derived), in column order."""

    collection_id: str
    stix_id: str
    type: str
    version: str
    version_us: int
    spec_version: str
    date_added_us: int
    body: bytes
    label: str
    classification: int
    tlp: int
    noforn: int  # 0 or 1
    orcon: int  # 0 or 1
    rel_to: str
    topics: str
    source_refs: str
    originator: str | None
    further_sharing: str | None
    portions: str | None
    posted_by: str | None


# Columns the policy reads to build its label columns.
LABEL_COLUMNS = (
    objects.c.seq,
    objects.c.stix_id,
    objects.c.date_added_us,
    objects.c.classification,
    objects.c.tlp,
    objects.c.noforn,
    objects.c.orcon,
    objects.c.rel_to,
    objects.c.topics,
    objects.c.source_refs,
    objects.c.originator,
    objects.c.further_sharing,
    objects.c.portions,
)
LABEL_PART = slice(3, None)  # of a LABEL_COLUMNS row: the label itself (after seq, stix_id, date_added_us)


_INSERT_COLUMNS = NewVersion._fields
assert tuple(c.name for c in objects.columns if c.name != "seq") == _INSERT_COLUMNS, "NewVersion is out of step"

Row = tuple[Any, ...]
"""A version to store as a plain tuple in :class:`NewVersion`'s column order (a ``NewVersion`` is one
too). Intake builds plain tuples: the SQLite driver binds an exact tuple on its fast path, and a
named tuple would need a copy per row first."""
STIX_ID, VERSION_US, DATE_ADDED_US = (_INSERT_COLUMNS.index(n) for n in ("stix_id", "version_us", "date_added_us"))
_SQLITE_INSERT = (
    f"INSERT OR IGNORE INTO objects ({', '.join(_INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _INSERT_COLUMNS)})"
)
_MAX_SEQ = f"SELECT coalesce(max(seq), 0) FROM {objects.name}"  # portable; no statement to compile


def insert_versions(conn: Connection, rows: Sequence[Row]) -> list[tuple[int, str, int]]:
    """Insert versions; an already stored (collection, id, version) is left as it is.

    Returns (seq, stix_id, version_us) of the rows actually inserted, in seq order. On SQLite the
    caller holds the write lock (``BEGIN IMMEDIATE``), so the new rows are exactly those past the
    previous maximum seq; the plain driver ``executemany`` is several times faster than a
    statement with RETURNING per batch. PostgreSQL uses ``INSERT ... ON CONFLICT DO NOTHING
    RETURNING``, which is safe with concurrent writers.
    """
    if not rows:
        return []
    if conn.dialect.name == "sqlite":
        before = max_seq(conn)
        # exact tuples: the driver binds those on its fast path, a named tuple on a slower one
        exact = rows if set(map(type, rows)) <= {tuple} else [tuple(r) for r in rows]
        conn.exec_driver_sql(_SQLITE_INSERT, exact)  # type: ignore[arg-type]
        after = max_seq(conn)
        if after - before == len(rows):
            # every row went in: SQLite gives a new row the largest rowid plus one, so under the
            # write lock the seqs are before+1 ... after, in the order of ``rows``
            return [(before + 1 + i, r[STIX_ID], r[VERSION_US]) for i, r in enumerate(rows)]
        got = conn.execute(
            select(objects.c.seq, objects.c.stix_id, objects.c.version_us)
            .where(objects.c.seq > before)
            .order_by(objects.c.seq)
        )
        return [(int(a), str(b), int(c)) for a, b, c in got]
    stmt = (
        pg_insert(objects)
        .on_conflict_do_nothing(index_elements=["stix_id", "version_us", "collection_id"])
        .returning(objects.c.seq, objects.c.stix_id, objects.c.version_us)
    )
    got = conn.execute(stmt, [dict(zip(_INSERT_COLUMNS, r, strict=True)) for r in rows])
    return sorted((int(a), str(b), int(c)) for a, b, c in got)


def label_rows(conn: Connection, after_seq: int = 0) -> Iterator[object]:
    """Label columns of every version with seq > after_seq, in seq order."""
    yield from conn.execute(
        select(*LABEL_COLUMNS).where(objects.c.seq > after_seq).order_by(objects.c.seq)
    )


def max_seq(conn: Connection) -> int:
    return int(conn.exec_driver_sql(_MAX_SEQ).scalar_one())


def counts(conn: Connection) -> tuple[int, int]:
    """(distinct object ids, stored versions) over all collections (distinct (id, version))."""
    ids = conn.execute(select(func.count(distinct(objects.c.stix_id)))).scalar_one()
    versions = conn.execute(
        select(func.count()).select_from(
            select(objects.c.stix_id, objects.c.version_us).distinct().subquery()
        )
    ).scalar_one()
    return int(ids), int(versions)


def versions_of(conn: Connection, stix_id: str, collection_id: str | None = None) -> list[object]:
    q = select(objects).where(objects.c.stix_id == stix_id)
    if collection_id is not None:
        q = q.where(objects.c.collection_id == collection_id)
    return list(conn.execute(q.order_by(objects.c.version_us, objects.c.seq)))


def rows_by_seq(conn: Connection, seqs: Sequence[int]) -> list[object]:
    out: list[object] = []
    for start in range(0, len(seqs), 500):
        chunk = list(seqs[start : start + 500])
        out.extend(conn.execute(select(objects).where(objects.c.seq.in_(chunk)).order_by(objects.c.seq)))
    return out


def iter_bodies(conn: Connection, collection_id: str | None = None) -> Iterator[object]:
    q = select(objects.c.seq, objects.c.stix_id, objects.c.version, objects.c.body)
    if collection_id is not None:
        q = q.where(objects.c.collection_id == collection_id)
    yield from conn.execute(q.order_by(objects.c.seq))
