"""ORCON / TLP:RED approvals: per object id and partner; revocable, never deleted."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from tearline.store.schema import approvals


@dataclass(frozen=True)
class ApprovalRow:
    id: int
    stix_id: str
    partner: str
    approved_by: str
    reason: str
    created_us: int
    revoked_us: int | None
    revoked_by: str | None
    revoke_reason: str | None

    @property
    def active(self) -> bool:
        return self.revoked_us is None


def add(conn: Connection, stix_id: str, partner: str, approved_by: str, reason: str, at_us: int) -> int:
    result = conn.execute(
        approvals.insert().values(
            stix_id=stix_id, partner=partner, approved_by=approved_by, reason=reason, created_us=at_us
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def revoke(conn: Connection, approval_id: int, by: str, reason: str, at_us: int) -> ApprovalRow | None:
    row = get(conn, approval_id)
    if row is None or not row.active:
        return row
    conn.execute(
        approvals.update()
        .where(approvals.c.id == approval_id)
        .values(revoked_us=at_us, revoked_by=by, revoke_reason=reason)
    )
    return get(conn, approval_id)


def get(conn: Connection, approval_id: int) -> ApprovalRow | None:
    row = conn.execute(select(approvals).where(approvals.c.id == approval_id)).first()
    return ApprovalRow(**row._mapping) if row else None


def listing(conn: Connection, *, partner: str | None = None, active_only: bool = False) -> list[ApprovalRow]:
    q = select(approvals)
    if partner is not None:
        q = q.where(approvals.c.partner == partner)
    if active_only:
        q = q.where(approvals.c.revoked_us.is_(None))
    return [ApprovalRow(**r._mapping) for r in conn.execute(q.order_by(approvals.c.id))]


def approved_ids(conn: Connection, partner: str) -> set[str]:
    q = select(approvals.c.stix_id).where(approvals.c.partner == partner, approvals.c.revoked_us.is_(None))
    return set(conn.execute(q).scalars())


def active_by_partner(conn: Connection) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for partner, stix_id in conn.execute(_ACTIVE):
        out.setdefault(partner, set()).add(stix_id)
    return out


# built once (ingest reads it for every unit): making a statement costs several times running it
_ACTIVE = select(approvals.c.partner, approvals.c.stix_id).where(approvals.c.revoked_us.is_(None))
