"""Stored bodies for egress: read only by the release pipeline (:mod:`tearline.services.release`),
which every byte that leaves for a partner passes; an architecture test holds that nothing else
imports this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, select

from tearline.store.schema import objects


def full_rows(conn: Connection, seqs: Sequence[int]) -> list[Row[Any]]:
    """Whole stored rows (with ``body`` and label columns) for the release pipeline, by ``seq``."""
    out: list[Row[Any]] = []
    ordered = sorted(set(seqs))
    for start in range(0, len(ordered), 500):
        part = ordered[start : start + 500]
        out.extend(conn.execute(select(objects).where(objects.c.seq.in_(part)).order_by(objects.c.seq)))
    return out
