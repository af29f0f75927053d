"""Materialised decisions: per partner, a verdict byte for every stored version, by ``seq``.

Stored as fixed-size chunks (``CHUNK`` seqs each, zlib-compressed), so ingest rewrites only the
chunks its new rows fall in, a full recompute writes ``max_seq / CHUNK`` rows (16 at 1M versions),
and serving reads the chunk a page needs. ``UNKNOWN`` marks seqs with no decision (not yet
computed, or no such row): serving treats it as withheld.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, delete, select

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
    return {r.partner: DecisionSetInfo(**r._mapping) for r in conn.execute(select(decision_sets))}


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
