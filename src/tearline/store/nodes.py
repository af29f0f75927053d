"""The node's own facts and its collections."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

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
