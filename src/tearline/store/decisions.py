"""Materialised decisions: per partner, a verdict byte for every stored version, by ``seq``.

Stored as fixed-size chunks (``CHUNK`` seqs each, zlib-compressed), so ingest rewrites only the
chunks its new rows fall in, a full recompute writes ``max_seq / CHUNK`` rows (16 at 1M versions),
and serving reads the chunk a page needs. ``UNKNOWN`` marks seqs with no decision (not yet
computed, or no such row): serving treats it as withheld.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, bindparam, delete, select

from tearline.store.schema import decision_chunks, decision_sets

CHUNK = 1 << 16
UNKNOWN = 255


@dataclass(frozen=True)
class DecisionSetInfo:
    partner: str
    profile_version: int
    computed_us: int
    watermark_seq: int
    generation: int


def info(conn: Connection, partner: str) -> DecisionSetInfo | None:
    row = conn.execute(select(decision_sets).where(decision_sets.c.partner == partner)).first()
    return DecisionSetInfo(**row._mapping) if row else None


def all_info(conn: Connection) -> dict[str, DecisionSetInfo]:
    return {r.partner: DecisionSetInfo(**r._mapping) for r in conn.execute(_ALL_INFO)}


# The statements ingest runs for every unit, built once: making a statement costs several times
# running it (SQLAlchemy keeps a statement's cache key, and finds its compiled form, only while
# the same object is used); the lists they take are expanding parameters.
_ALL_INFO = select(decision_sets)
_LOAD_CHUNKS = select(decision_chunks.c.partner, decision_chunks.c.chunk, decision_chunks.c.verdicts).where(
    decision_chunks.c.partner.in_(bindparam("partners", expanding=True)),
    decision_chunks.c.chunk.in_(bindparam("chunks", expanding=True)),
)
_DELETE_FROM = delete(decision_chunks).where(
    decision_chunks.c.partner.in_(bindparam("partners", expanding=True)),
    decision_chunks.c.chunk >= bindparam("first"),
)
_INSERT_CHUNKS = decision_chunks.insert()
_UPDATE_SETS = (
    decision_sets.update()
    .where(decision_sets.c.partner == bindparam("p"))
    .values(
        profile_version=bindparam("pv"),
        computed_us=bindparam("at"),
        watermark_seq=bindparam("wm"),
        generation=decision_sets.c.generation + 1,
    )
)


def save(
    conn: Connection,
    partner: str,
    verdicts: npt.NDArray[np.uint8],
    *,
    profile_version: int,
    computed_us: int,
    watermark_seq: int,
    from_seq: int = 0,
) -> int:
    """Write the chunks covering seqs ≥ ``from_seq`` (all when 0) and bump the generation."""
    first = from_seq // CHUNK
    last = (len(verdicts) - 1) // CHUNK if len(verdicts) else -1
    if from_seq == 0:
        conn.execute(delete(decision_chunks).where(decision_chunks.c.partner == partner))
    else:
        conn.execute(
            delete(decision_chunks).where(decision_chunks.c.partner == partner, decision_chunks.c.chunk >= first)
        )
    rows = []
    for c in range(first, last + 1):
        part = np.ascontiguousarray(verdicts[c * CHUNK : (c + 1) * CHUNK], dtype=np.uint8)
        rows.append({"partner": partner, "chunk": c, "verdicts": zlib.compress(part.tobytes(), 1)})
    if rows:
        conn.execute(decision_chunks.insert(), rows)
    current = info(conn, partner)
    generation = (current.generation + 1) if current else 1
    values = {
        "profile_version": profile_version,
        "computed_us": computed_us,
        "watermark_seq": watermark_seq,
        "generation": generation,
    }
    if current is None:
        conn.execute(decision_sets.insert().values(partner=partner, **values))
    else:
        conn.execute(decision_sets.update().where(decision_sets.c.partner == partner).values(**values))
    return generation


def load(conn: Connection, partner: str, chunks: Iterable[int] | None = None) -> npt.NDArray[np.uint8]:
    """The verdict array (index = seq); chunks not stored read as UNKNOWN."""
    q = select(decision_chunks.c.chunk, decision_chunks.c.verdicts).where(decision_chunks.c.partner == partner)
    if chunks is not None:
        q = q.where(decision_chunks.c.chunk.in_(sorted(set(chunks))))
    parts = {int(r.chunk): np.frombuffer(zlib.decompress(r.verdicts), dtype=np.uint8) for r in conn.execute(q)}
    if not parts:
        return np.zeros(0, dtype=np.uint8)
    top = max(parts)
    out = np.full(top * CHUNK + len(parts[top]), UNKNOWN, dtype=np.uint8)
    for c, arr in parts.items():
        out[c * CHUNK : c * CHUNK + len(arr)] = arr
    return out


@dataclass(frozen=True)
class ChunkWrite:
    """New verdicts of one partner from chunk ``first_chunk`` on (index 0 = seq ``first_chunk * CHUNK``)."""

    partner: str
    first_chunk: int
    verdicts: npt.NDArray[np.uint8]
    profile_version: int
    computed_us: int
    watermark_seq: int


def load_chunks(
    conn: Connection, partners: Sequence[str], chunks: Iterable[int]
) -> dict[str, dict[int, npt.NDArray[np.uint8]]]:
    """The stored chunks ``chunks`` of several partners, by partner and chunk number."""
    wanted = sorted(set(chunks))
    out: dict[str, dict[int, npt.NDArray[np.uint8]]] = {p: {} for p in partners}
    if not partners or not wanted:
        return out
    for partner, chunk, verdicts in conn.execute(_LOAD_CHUNKS, {"partners": sorted(set(partners)), "chunks": wanted}):
        out[partner][int(chunk)] = np.frombuffer(zlib.decompress(verdicts), dtype=np.uint8)
    return out


def write_chunks(conn: Connection, writes: Sequence[ChunkWrite]) -> None:
    """Replace each partner's chunks from its ``first_chunk`` on and bump its generation, in a
    fixed number of statements whatever the number of partners (their sets must exist)."""
    if not writes:
        return
    for first in sorted({w.first_chunk for w in writes}):
        partners = sorted(w.partner for w in writes if w.first_chunk == first)
        conn.execute(_DELETE_FROM, {"partners": partners, "first": first})
    rows = []
    for w in writes:
        for i in range(0, len(w.verdicts), CHUNK):
            part = np.ascontiguousarray(w.verdicts[i : i + CHUNK], dtype=np.uint8)
            rows.append({"partner": w.partner, "chunk": w.first_chunk + i // CHUNK,
                         "verdicts": zlib.compress(part.tobytes(), 1)})
    if rows:
        conn.execute(_INSERT_CHUNKS, rows)
    conn.execute(
        _UPDATE_SETS,
        [{"p": w.partner, "pv": w.profile_version, "at": w.computed_us, "wm": w.watermark_seq} for w in writes],
    )
