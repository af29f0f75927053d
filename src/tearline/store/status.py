"""TAXII status resources (TAXII 2.1 §4.3): one row per Add Objects request.

The status of a POST cannot be derived from ``objects`` (a duplicate or a refused object leaves no
row there), so it is kept whole: the status resource as canonical JSON, readable only by the
partner that made the request.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from tearline.store.schema import taxii_status


def add(conn: Connection, status_id: str, partner: str, created_us: int, body: bytes) -> None:
    conn.execute(taxii_status.insert().values(id=status_id, partner=partner, created_us=created_us, body=body))


def get(conn: Connection, status_id: str, partner: str) -> bytes | None:
    """The stored status resource if it belongs to ``partner`` (another partner's is absent)."""
    row = conn.execute(
        select(taxii_status.c.body).where(taxii_status.c.id == status_id, taxii_status.c.partner == partner)
    ).first()
    return None if row is None else bytes(row.body)
