"""The vault repository: sources, their sealed fields, key wraps and the reveal log.

This module only moves rows; it never sees a key-encryption key or a plaintext value (sealing and
opening happen in :mod:`tearline.services.vault` with :mod:`tearline.crypto.sealing`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, update

from tearline.store.schema import vault_fields, vault_keys, vault_reveals, vault_sources


@dataclass(frozen=True)
class KeyRow:
    id: int
    wrapped: bytes
    kek_id: str
    created_us: int
    active: bool


@dataclass(frozen=True)
class SourceRow:
    id: str
    cover: str
    reliability: str
    credibility: int
    compartments: str  # comma-joined, sorted
    created_us: int


@dataclass(frozen=True)
class FieldRow:
    id: int
    source_id: str
    field: str
    key_id: int
    sealed: bytes
    created_us: int


@dataclass(frozen=True)
class NewField:
    source_id: str
    field: str
    key_id: int
    sealed: bytes
    created_us: int


@dataclass(frozen=True)
class RevealRow:
    id: int
    source_id: str
    by: str
    reason: str
    at_us: int


# -- keys -----------------------------------------------------------------------------------------
def keys(conn: Connection, *, active_only: bool = False, lock: bool = False) -> list[KeyRow]:
    """Key wraps in id order. ``lock`` takes a row lock (PostgreSQL) so a retirement waits for writers."""
    q = select(vault_keys).order_by(vault_keys.c.id)
    if active_only:
        q = q.where(vault_keys.c.active.is_(True))
    if lock:
        q = q.with_for_update(read=True)
    return [KeyRow(**r._mapping) for r in conn.execute(q)]


def add_key(conn: Connection, wrapped: bytes, kek_id: str, at_us: int) -> int:
    result = conn.execute(vault_keys.insert().values(wrapped=wrapped, kek_id=kek_id, created_us=at_us, active=True))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def set_wrapped(conn: Connection, key_row: int, wrapped: bytes) -> None:
    conn.execute(update(vault_keys).where(vault_keys.c.id == key_row).values(wrapped=wrapped))


def retire_keys(conn: Connection, rows: Iterable[int]) -> None:
    """Mark wraps inactive and erase their bytes (the row stays as history)."""
    ids = list(rows)
    if ids:
        conn.execute(update(vault_keys).where(vault_keys.c.id.in_(ids)).values(active=False, wrapped=b""))


# -- sources --------------------------------------------------------------------------------------
def add_source(conn: Connection, row: SourceRow) -> None:
    conn.execute(vault_sources.insert().values(**row.__dict__))


def find_source(conn: Connection, key: str) -> SourceRow | None:
    """A source by id or by cover name."""
    q = select(vault_sources).where((vault_sources.c.id == key) | (vault_sources.c.cover == key.upper()))
    row = conn.execute(q).first()
    return SourceRow(**row._mapping) if row else None


def sources(conn: Connection) -> list[SourceRow]:
    q = select(vault_sources).order_by(vault_sources.c.cover)
    return [SourceRow(**r._mapping) for r in conn.execute(q)]


def term_counts(conn: Connection, kinds: Sequence[str]) -> dict[str, int]:
    q = (
        select(vault_fields.c.source_id, func.count())
        .where(vault_fields.c.field.in_(list(kinds)))
        .group_by(vault_fields.c.source_id)
    )
    return {str(sid): int(n) for sid, n in conn.execute(q)}


# -- fields ---------------------------------------------------------------------------------------
def add_fields(conn: Connection, rows: Sequence[NewField]) -> None:
    if rows:
        conn.execute(vault_fields.insert(), [r.__dict__ for r in rows])


def fields(conn: Connection, *, source_id: str | None = None, kinds: Sequence[str] | None = None) -> list[FieldRow]:
    q = select(vault_fields).order_by(vault_fields.c.id)
    if source_id is not None:
        q = q.where(vault_fields.c.source_id == source_id)
    if kinds is not None:
        q = q.where(vault_fields.c.field.in_(list(kinds)))
    return [FieldRow(**r._mapping) for r in conn.execute(q)]


def fields_not_under(conn: Connection, key_id: int, limit: int) -> list[FieldRow]:
    """Up to ``limit`` fields sealed under a data key other than ``key_id`` (data-key rotation)."""
    q = select(vault_fields).where(vault_fields.c.key_id != key_id).order_by(vault_fields.c.id).limit(limit)
    return [FieldRow(**r._mapping) for r in conn.execute(q)]


def reseal(conn: Connection, field_id: int, key_id: int, sealed: bytes) -> None:
    conn.execute(update(vault_fields).where(vault_fields.c.id == field_id).values(key_id=key_id, sealed=sealed))


def fields_version(conn: Connection, kinds: Sequence[str]) -> tuple[int, int]:
    """(count, largest id) of the fields of ``kinds``: changes whenever one is added or removed."""
    q = select(func.count(), func.coalesce(func.max(vault_fields.c.id), 0)).where(
        vault_fields.c.field.in_(list(kinds))
    )
    n, top = conn.execute(q).one()
    return int(n), int(top)


# -- reveals --------------------------------------------------------------------------------------
def add_reveal(conn: Connection, source_id: str, by: str, reason: str, at_us: int) -> int:
    result = conn.execute(vault_reveals.insert().values(source_id=source_id, by=by, reason=reason, at_us=at_us))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def reveals(conn: Connection, source_id: str | None = None) -> list[RevealRow]:
    q = select(vault_reveals).order_by(vault_reveals.c.id)
    if source_id is not None:
        q = q.where(vault_reveals.c.source_id == source_id)
    return [RevealRow(**r._mapping) for r in conn.execute(q)]


def delete_fields(conn: Connection, source_id: str, field: str) -> int:
    result = conn.execute(
        vault_fields.delete().where(vault_fields.c.source_id == source_id, vault_fields.c.field == field)
    )
    return int(result.rowcount or 0)
