"""ORCON and TLP:RED approvals: recorded per object and partner, listed, revocable."""

from __future__ import annotations

from tearline.canonical import to_micros
from tearline.clock import Clock
from tearline.errors import InvalidInput, NotFound
from tearline.services.decisions import Decisions
from tearline.services.ledger import Ledger
from tearline.store import approvals as store
from tearline.store import objects as objects_store
from tearline.store import partners as partners_store
from tearline.store.engine import Database


class Approvals:
    def __init__(self, db: Database, clock: Clock, decisions: Decisions, ledger: Ledger) -> None:
        self.db = db
        self.clock = clock
        self.decisions = decisions
        self.ledger = ledger

    def approve(self, stix_id: str, partner: str, *, by: str, reason: str) -> store.ApprovalRow:
        """Approve the release of every version of an object to a partner; turns HOLD into release."""
        if not by.strip() or not reason.strip():
            raise InvalidInput("`--by` and `--reason` are required and cannot be empty")
        partner = partner.strip().upper()
        with self.db.write() as conn:
            if partners_store.get_partner(conn, partner) is None:
                raise NotFound(f"no partner `{partner}`")
            if not objects_store.versions_of(conn, stix_id):
                raise NotFound(f"no object `{stix_id}`")
            now = self.clock.now()
            aid = store.add(conn, stix_id, partner, by.strip(), reason.strip(), to_micros(now))
            self.ledger.approval(conn, time=now, partner=partner, object_id=stix_id, by=by.strip(),
                                 reason=reason.strip())
            self.decisions.recompute(conn, partner)
            row = store.get(conn, aid)
        assert row is not None
        return row

    def revoke(self, approval_id: int, *, by: str, reason: str) -> store.ApprovalRow:
        if not by.strip() or not reason.strip():
            raise InvalidInput("`--by` and `--reason` are required and cannot be empty")
        with self.db.write() as conn:
            row = store.get(conn, approval_id)
            if row is None:
                raise NotFound(f"no approval {approval_id}")
            if not row.active:
                raise InvalidInput(f"approval {approval_id} is already revoked")
            now = self.clock.now()
            row = store.revoke(conn, approval_id, by.strip(), reason.strip(), to_micros(now))
            assert row is not None
            self.ledger.approval(conn, time=now, partner=row.partner, object_id=row.stix_id, by=by.strip(),
                                 reason=reason.strip(), revoked=True)
            self.decisions.recompute(conn, row.partner)
        return row

    def listing(self, *, partner: str | None = None, active_only: bool = False) -> list[store.ApprovalRow]:
        with self.db.read() as conn:
            return store.listing(conn, partner=partner.upper() if partner else None, active_only=active_only)
