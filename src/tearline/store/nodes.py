"""The node's own facts and its collections."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Connection, Text, cast, func, select

from tearline.errors import StorageError
from tearline.store.engine import translate_errors
from tearline.store.schema import collections, node_meta

if TYPE_CHECKING:
    from tearline.store.engine import Database


def get_meta(conn: Connection) -> dict[str, str]:
    return {k: v for k, v in conn.execute(select(node_meta.c.key, node_meta.c.value))}


def set_meta(conn: Connection, values: dict[str, str]) -> None:
    for key, value in sorted(values.items()):
        updated = conn.execute(node_meta.update().where(node_meta.c.key == key).values(value=value))
        if updated.rowcount == 0:
            conn.execute(node_meta.insert().values(key=key, value=value))


@dataclass(frozen=True)
class CollectionRow:
    id: str
    alias: str
    title: str
    description: str
    kind: str  # shared | inbox | custom
    owner: str | None
    partner_write: bool
    created_us: int


def add_collection(conn: Connection, row: CollectionRow) -> None:
    conn.execute(collections.insert().values(**row.__dict__))
    bump_epoch(conn)  # partners' collection lists change


def list_collections(conn: Connection) -> list[CollectionRow]:
    rows = conn.execute(select(collections).order_by(collections.c.created_us, collections.c.alias))
    return [CollectionRow(**r._mapping) for r in rows]


def find_collection(conn: Connection, key: str) -> CollectionRow | None:
    """By id or alias."""
    row = conn.execute(
        select(collections).where((collections.c.id == key) | (collections.c.alias == key))
    ).first()
    return CollectionRow(**row._mapping) if row else None


def inbox_of(conn: Connection, partner: str) -> CollectionRow | None:
    row = conn.execute(
        select(collections).where(collections.c.kind == "inbox", collections.c.owner == partner)
    ).first()
    return CollectionRow(**row._mapping) if row else None


def count_collections(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(collections)).scalar_one())


# -- the change epoch ----------------------------------------------------------------------------
# One node-wide counter in ``node_meta``, bumped in the same transaction as every change that can
# alter what a partner is served (profile versions, approvals, stored or deleted versions, vault
# terms and sources, collections). Serving reads it once per request (a primary-key read) to know
# whether what it cached is still current, across worker processes and the CLI.
EPOCH_KEY = "change_epoch"


def bump_epoch(conn: Connection) -> None:
    """Add one to the change epoch, atomically (one upsert statement, safe under concurrency)."""
    conn.execute(_bump_statement(conn.dialect.name))


@functools.cache
def _bump_statement(dialect: str) -> Any:
    # built once: making this statement costs several times running it (SQLAlchemy keeps the
    # compiled form of a statement object, and its cache key, only while the object lives)
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
    stmt = upsert(node_meta).values(key=EPOCH_KEY, value="1")
    return stmt.on_conflict_do_update(
        index_elements=[node_meta.c.key],
        set_={"value": cast(cast(node_meta.c.value, BigInteger) + 1, Text)},
    )


def read_epoch(conn: Connection) -> int:
    """The change epoch (0 before the first change)."""
    value = conn.execute(select(node_meta.c.value).where(node_meta.c.key == EPOCH_KEY)).scalar()
    return int(value) if value is not None else 0


class EpochProbe:
    """Reads the change epoch with one statement on a raw pooled connection.

    Serving reads the epoch on every request; a SQLAlchemy transaction costs ~150 µs on SQLite, a
    bare statement on a connection checked out of the same pool ~12 µs. The connection goes back
    to the pool at once (its reset ends any implicit transaction), so pool use stays as bounded as
    every other read's.
    """

    _SQL = f"SELECT value FROM node_meta WHERE key = '{EPOCH_KEY}'"  # a constant: nothing to bind

    def __init__(self, db: Database) -> None:
        self._db = db

    def read(self) -> int:
        driver_error = self._db.engine.dialect.loaded_dbapi.Error
        with translate_errors():  # (a pool checkout's errors are SQLAlchemy's)
            conn = self._db.engine.raw_connection()
            try:
                cur = conn.cursor()
                cur.execute(self._SQL)
                row = cur.fetchone()
                cur.close()
            except driver_error as exc:
                conn.invalidate()
                raise StorageError(f"the database is unavailable or busy: {str(exc).splitlines()[0][:200]}") from exc
            finally:
                conn.close()
        return int(row[0]) if row is not None else 0
