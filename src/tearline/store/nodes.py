"""The node's own facts and its collections."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Connection, Text, cast, func, select

from tearline.store.schema import collections, node_meta


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
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
    stmt = upsert(node_meta).values(key=EPOCH_KEY, value="1")
    stmt = stmt.on_conflict_do_update(
        index_elements=[node_meta.c.key],
        set_={"value": cast(cast(node_meta.c.value, BigInteger) + 1, Text)},
    )
    conn.execute(stmt)


def read_epoch(conn: Connection) -> int:
    """The change epoch (0 before the first change)."""
    value = conn.execute(select(node_meta.c.value).where(node_meta.c.key == EPOCH_KEY)).scalar()
    return int(value) if value is not None else 0
