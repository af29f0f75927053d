"""Keyset page queries for TAXII: light rows in ``(date_added_us, seq)`` order, never OFFSET.

A page scan reads only the columns TAXII filters and lists on (no ``body``), along the index
``ix_objects_page (collection_id, date_added_us, seq)``; a position is the ``(date_added_us, seq)``
of the last row seen, so the next chunk starts strictly after it. Per-partner visibility is not
known to SQL (it is a verdict per ``seq`` held in memory), so callers fetch chunks and filter.
Bodies are fetched separately, by ``seq``, only for rows that must go through the release pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, or_, select

from tearline.store.nodes import bump_epoch
from tearline.store.schema import objects

Position = tuple[int, int]  # (date_added_us, seq)


@dataclass(frozen=True)
class LightRow:
    """What a page needs of a stored version before its bytes: filter and listing columns."""

    seq: int
    stix_id: str
    type: str
    version: str
    version_us: int
    spec_version: str
    date_added_us: int

    @property
    def position(self) -> Position:
        return (self.date_added_us, self.seq)


@dataclass(frozen=True)
class Match:
    """SQL-side filters (TAXII 2.1 §3.5): each empty tuple means "any"."""

    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    spec_versions: tuple[str, ...] = ()
    added_after_us: int | None = None


_LIGHT = (
    objects.c.seq,
    objects.c.stix_id,
    objects.c.type,
    objects.c.version,
    objects.c.version_us,
    objects.c.spec_version,
    objects.c.date_added_us,
)


def _light(rows: Iterable[Row[Any]]) -> list[LightRow]:
    """:class:`LightRow` s from result rows of ``select(*_LIGHT)``."""
    return [
        LightRow(int(r.seq), r.stix_id, r.type, r.version, int(r.version_us), r.spec_version, int(r.date_added_us))
        for r in rows
    ]


def _after(position: Position) -> ColumnElement[bool]:
    added, seq = position
    # Spelled out (not a row-value comparison) so both SQLite and PostgreSQL use the index range.
    return or_(
        objects.c.date_added_us > added,
        and_(objects.c.date_added_us == added, objects.c.seq > seq),
    )


def _filtered(match: Match, *, with_added: bool = True) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a match (each one the query adds, in this order)."""
    where: list[ColumnElement[bool]] = []
    if match.ids:
        where.append(objects.c.stix_id.in_(match.ids))
    if match.types:
        where.append(objects.c.type.in_(match.types))
    if match.spec_versions:
        where.append(objects.c.spec_version.in_(match.spec_versions))
    if with_added and match.added_after_us is not None:
        where.append(objects.c.date_added_us > match.added_after_us)
    return where


def scan(
    conn: Connection, collection_id: str, match: Match, *, after: Position | None, chunk: int
) -> list[LightRow]:
    """Up to ``chunk`` rows of the collection after ``after``, in ``(date_added_us, seq)`` order."""
    where = [objects.c.collection_id == collection_id, *_filtered(match)]
    if after is not None:
        where.append(_after(after))
    q = select(*_LIGHT).where(*where).order_by(objects.c.date_added_us, objects.c.seq).limit(chunk)
    return _light(conn.execute(q))


def versions_of_ids(
    conn: Connection, collection_id: str, stix_ids: Sequence[str], spec_versions: tuple[str, ...] = ()
) -> list[LightRow]:
    """Every version (light) of the given ids in the collection, by ``ix_objects_stix_id``.

    Used to decide which version of an id is its first or last one *among those a partner may see*.
    """
    out: list[LightRow] = []
    ids = sorted(set(stix_ids))
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        q = select(*_LIGHT).where(
            objects.c.stix_id.in_(part),
            objects.c.collection_id == collection_id,
            *_filtered(Match(spec_versions=spec_versions), with_added=False),
        )
        out.extend(_light(conn.execute(q.order_by(objects.c.stix_id, objects.c.version_us, objects.c.seq))))
    return out


def delete_versions(conn: Connection, collection_id: str, seqs: Sequence[int]) -> int:
    """Delete stored versions of one collection by ``seq``; returns how many went (and bumps the
    change epoch in the same transaction when any did)."""
    total = 0
    ordered = sorted(set(seqs))
    for start in range(0, len(ordered), 500):
        part = ordered[start : start + 500]
        result = conn.execute(
            objects.delete().where(objects.c.collection_id == collection_id, objects.c.seq.in_(part))
        )
        total += int(result.rowcount or 0)
    if total:
        bump_epoch(conn)  # what partners are served changed
    return total


def collection_rows(conn: Connection, collection_id: str, spec_versions: tuple[str, ...] = ()) -> list[LightRow]:
    """Every version of a collection (light), in (date_added_us, seq) order: an index build reads this."""
    q = select(*_LIGHT).where(
        objects.c.collection_id == collection_id, *_filtered(Match(spec_versions=spec_versions), with_added=False)
    )
    return _light(conn.execute(q.order_by(objects.c.date_added_us, objects.c.seq)))


def light_by_seq(conn: Connection, seqs: Sequence[int]) -> list[LightRow]:
    """Light rows for the given seqs, in (date_added_us, seq) order."""
    out: list[LightRow] = []
    ordered = sorted(set(seqs))
    for start in range(0, len(ordered), 500):
        part = ordered[start : start + 500]
        out.extend(_light(conn.execute(select(*_LIGHT).where(objects.c.seq.in_(part)))))
    return sorted(out, key=lambda r: r.position)


def count_deliveries(conn: Connection, counts: Mapping[int, int], last_us: Mapping[int, int]) -> None:
    """Add repeat deliveries to release records (``releases.deliveries``); ``last_us`` only moves
    forward. One driver-level ``executemany`` (tens of thousands of records are written every few
    seconds under load; SQLAlchemy's per-row parameter handling would cost ten times more)."""
    if not counts:
        return
    if conn.dialect.name == "postgresql":
        sql = "UPDATE releases SET deliveries = deliveries + %s, last_us = GREATEST(last_us, %s) WHERE id = %s"
    else:
        sql = "UPDATE releases SET deliveries = deliveries + ?, last_us = MAX(last_us, ?) WHERE id = ?"
    rows = [(n, last_us.get(rid, 0), rid) for rid, n in sorted(counts.items())]
    conn.exec_driver_sql(sql, rows)
