"""Stored object versions: canonical JSON bytes plus the indexed and label columns."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final, NamedTuple, Protocol

from sqlalchemy import Connection, distinct, func, select

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
too)."""

# A batch splits each row in two: the columns that differ from version to version, and the columns
# versions of a unit share (the collection, the time added, the labels: a feed marks thousands of
# objects alike), each distinct combination of those once.
VERSION_COLUMNS: Final = ("stix_id", "type", "version", "version_us", "body")
SHARED_COLUMNS: Final = tuple(c for c in _INSERT_COLUMNS if c not in VERSION_COLUMNS)
_VERSION_AT: Final = tuple(_INSERT_COLUMNS.index(c) for c in VERSION_COLUMNS)
_SHARED_AT: Final = tuple(_INSERT_COLUMNS.index(c) for c in SHARED_COLUMNS)
STIX_ID, VERSION_US = VERSION_COLUMNS.index("stix_id"), VERSION_COLUMNS.index("version_us")  # of a version tuple
SHARED_INDEX = len(VERSION_COLUMNS)  # of a version tuple: the index of its shared columns


class Batch(NamedTuple):
    """Versions to store: ``versions`` holds a plain tuple per version, its
    :data:`VERSION_COLUMNS` then the index of its shared columns in ``shared``, which holds a tuple
    of :data:`SHARED_COLUMNS` per distinct combination.

    Plain tuples: the SQLite driver binds an exact tuple on its fast path, and a named tuple would
    need a copy per row first.
    """

    versions: list[Row]
    shared: list[Row]


def batch_of(rows: Sequence[Row]) -> Batch:
    """The batch of whole rows (:class:`NewVersion` column order)."""
    index: dict[Row, int] = {}
    versions: list[Row] = []
    shared: list[Row] = []
    for r in rows:
        s = tuple(r[at] for at in _SHARED_AT)
        k = index.get(s)
        if k is None:
            k = index[s] = len(shared)
            shared.append(s)
        versions.append((*(r[at] for at in _VERSION_AT), k))
    return Batch(versions, shared)


# SQLite: the shared columns go into a temporary table of the writing connection (per connection, never
# on disk: ``temp_store=MEMORY``), and each version is inserted with its own five columns bound and the
# others selected from there by their index. Binding a parameter costs the driver about as much as the
# database's whole work on it, and this binds 6 a version instead of 20 (inserts about a quarter faster
# on the ATT&CK bundles).
_SHARED_TABLE: Final = "tearline_unit_shared"
_VERSIONS_TABLE: Final = "tearline_unit_versions"  # (PostgreSQL)
_SQLITE_SHARED_CREATE: Final = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_SHARED_TABLE} (k INTEGER PRIMARY KEY, {', '.join(SHARED_COLUMNS)})"
)
_SQLITE_SHARED_CLEAR: Final = f"DELETE FROM temp.{_SHARED_TABLE}"
_SQLITE_SHARED_INSERT: Final = (
    f"INSERT INTO temp.{_SHARED_TABLE} VALUES ({', '.join('?' for _ in range(len(SHARED_COLUMNS) + 1))})"
)
_SQLITE_INSERT: Final = (
    f"INSERT OR IGNORE INTO objects ({', '.join(VERSION_COLUMNS + SHARED_COLUMNS)}) "
    f"SELECT {', '.join('?' for _ in VERSION_COLUMNS)}, {', '.join(SHARED_COLUMNS)} "
    f"FROM temp.{_SHARED_TABLE} WHERE k = ?"
)
_MAX_SEQ = f"SELECT coalesce(max(seq), 0) FROM {objects.name}"  # portable; no statement to compile


def insert_versions(conn: Connection, rows: Sequence[Row]) -> list[tuple[int, str, int]]:
    """:func:`insert_batch` of whole rows: (seq, stix_id, version_us) of each row inserted."""
    batch = batch_of(rows)
    return [(seq, batch.versions[i][STIX_ID], batch.versions[i][VERSION_US]) for seq, i in insert_batch(conn, batch)]


def insert_batch(conn: Connection, batch: Batch) -> list[tuple[int, int]]:
    """Insert versions; an already stored (collection, id, version) is left as it is, and so is the
    second of two equal ones in the batch.

    Returns (seq, index in the batch) of the versions actually inserted, in seq order, which is
    their order in the batch. On SQLite the caller holds the write lock (``BEGIN IMMEDIATE``), so
    the new rows are exactly those past the previous maximum seq; the plain driver ``executemany``
    is several times faster than a statement with RETURNING per batch. PostgreSQL uses ``COPY`` and
    ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING``, which is safe with concurrent writers.
    """
    versions = batch.versions
    if not versions:
        return []
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(_SQLITE_SHARED_CREATE)
        conn.exec_driver_sql(_SQLITE_SHARED_CLEAR)
        conn.exec_driver_sql(_SQLITE_SHARED_INSERT, [(k, *s) for k, s in enumerate(batch.shared)])
        before = max_seq(conn)
        # exact tuples: the driver binds those on its fast path, a named tuple on a slower one
        exact = versions if set(map(type, versions)) <= {tuple} else [tuple(v) for v in versions]
        conn.exec_driver_sql(_SQLITE_INSERT, exact)
        after = max_seq(conn)
        if after - before == len(versions):
            # every row went in: SQLite gives a new row the largest rowid plus one, so under the
            # write lock the seqs are before+1 ... after, in the order of the batch
            return list(zip(range(before + 1, after + 1), range(len(versions)), strict=True))
        return _matched(conn.exec_driver_sql(_SQLITE_NEW_SINCE, (before,)).fetchall(), batch)
    # the first of two equal versions in the batch, as on SQLite (one statement does not conflict
    # with itself in an order PostgreSQL promises)
    first: dict[tuple[str, int, str], int] = {}
    for i, v in enumerate(versions):
        first.setdefault((v[STIX_ID], v[VERSION_US], batch.shared[v[SHARED_INDEX]][0]), i)
    got = _pg_copy_insert(conn, batch, sorted(first.values()))
    return sorted((int(seq), first[(sid, int(vus), coll)]) for seq, sid, vus, coll in got)


# PostgreSQL (psycopg): the batch goes in with COPY into two temporary tables of the session (typed
# as `objects`, emptied at commit) and one INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING.
# A multi-row INSERT of a thousand versions is a statement of 20,000 parameters, which the driver
# parses in Python before sending: on the ATT&CK bundles that made ingest 2.1 s, most of it there.
_PG_SETUP: Final = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_SHARED_TABLE} ON COMMIT DELETE ROWS AS "
    f"SELECT 0 AS k, {', '.join(SHARED_COLUMNS)} FROM objects WITH NO DATA",
    f"CREATE TEMP TABLE IF NOT EXISTS {_VERSIONS_TABLE} ON COMMIT DELETE ROWS AS "
    f"SELECT 0 AS n, {', '.join(VERSION_COLUMNS)}, 0 AS k FROM objects WITH NO DATA",
    f"TRUNCATE {_SHARED_TABLE}, {_VERSIONS_TABLE}",
)
_PG_COPY_SHARED: Final = f"COPY {_SHARED_TABLE} (k, {', '.join(SHARED_COLUMNS)}) FROM STDIN"
_PG_COPY_VERSIONS: Final = f"COPY {_VERSIONS_TABLE} (n, {', '.join(VERSION_COLUMNS)}, k) FROM STDIN"
_PG_INSERT: Final = (
    f"INSERT INTO objects ({', '.join(VERSION_COLUMNS + SHARED_COLUMNS)}) "
    f"SELECT {', '.join('v.' + c for c in VERSION_COLUMNS)}, {', '.join('s.' + c for c in SHARED_COLUMNS)} "
    f"FROM {_VERSIONS_TABLE} v JOIN {_SHARED_TABLE} s ON s.k = v.k ORDER BY v.n "
    "ON CONFLICT (stix_id, version_us, collection_id) DO NOTHING "
    "RETURNING seq, stix_id, version_us, collection_id"
)


def _pg_copy_insert(conn: Connection, batch: Batch, indexes: Sequence[int]) -> list[Any]:
    raw: Any = conn.connection.dbapi_connection  # the transaction's own psycopg connection
    with raw.cursor() as cur:
        for statement in _PG_SETUP:
            cur.execute(statement)
        with cur.copy(_PG_COPY_SHARED) as copy:
            for k, s in enumerate(batch.shared):
                copy.write_row((k, *s))
        versions = batch.versions
        with cur.copy(_PG_COPY_VERSIONS) as copy:
            for i in indexes:
                copy.write_row((i, *versions[i]))
        cur.execute(_PG_INSERT)
        return list(cur.fetchall())


_SQLITE_NEW_SINCE: Final = (
    "SELECT seq, stix_id, version_us, collection_id FROM objects WHERE seq > ? ORDER BY seq"
)


def _matched(new: Sequence[Any], batch: Batch) -> list[tuple[int, int]]:
    """(seq, index in the batch) of the rows inserted (``new``: seq, stix_id, version_us,
    collection_id, in seq order). They went in in the order of the batch, so one walk pairs them."""
    out: list[tuple[int, int]] = []
    shared = batch.shared
    j, m = 0, len(new)
    for i, v in enumerate(batch.versions):
        if j == m:
            break
        seq, sid, vus, coll = new[j]
        if sid == v[STIX_ID] and vus == v[VERSION_US] and coll == shared[v[SHARED_INDEX]][0]:
            out.append((seq, i))
            j += 1
    if j != m:  # under the write lock every new row is one of the batch: a broken invariant
        raise RuntimeError(f"{m - j} rows inserted that are not in the batch")
    return out


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


class ObjectRow(Protocol):
    """A stored object version as read from ``objects`` (a SQLAlchemy row, by column name)."""

    @property
    def seq(self) -> int: ...
    @property
    def collection_id(self) -> str: ...
    @property
    def stix_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def version_us(self) -> int: ...
    @property
    def spec_version(self) -> str: ...
    @property
    def date_added_us(self) -> int: ...
    @property
    def body(self) -> bytes: ...
    @property
    def label(self) -> str: ...
    @property
    def classification(self) -> int: ...
    @property
    def tlp(self) -> int: ...
    @property
    def noforn(self) -> bool: ...
    @property
    def orcon(self) -> bool: ...
    @property
    def rel_to(self) -> str: ...
    @property
    def topics(self) -> str: ...
    @property
    def source_refs(self) -> str: ...
    @property
    def originator(self) -> str | None: ...
    @property
    def further_sharing(self) -> str | None: ...
    @property
    def portions(self) -> str | None: ...


def versions_of(conn: Connection, stix_id: str, collection_id: str | None = None) -> list[ObjectRow]:
    q = select(objects).where(objects.c.stix_id == stix_id)
    if collection_id is not None:
        q = q.where(objects.c.collection_id == collection_id)
    return list(conn.execute(q.order_by(objects.c.version_us, objects.c.seq)))


def rows_by_seq(conn: Connection, seqs: Sequence[int]) -> list[ObjectRow]:
    out: list[ObjectRow] = []
    for start in range(0, len(seqs), 500):
        chunk = list(seqs[start : start + 500])
        out.extend(conn.execute(select(objects).where(objects.c.seq.in_(chunk)).order_by(objects.c.seq)))
    return out


def iter_bodies(conn: Connection, collection_id: str | None = None) -> Iterator[object]:
    q = select(objects.c.seq, objects.c.stix_id, objects.c.version, objects.c.body)
    if collection_id is not None:
        q = q.where(objects.c.collection_id == collection_id)
    yield from conn.execute(q.order_by(objects.c.seq))
