"""The release ledger as a service: appending the leaves of every kind, signing tree heads,
proofs for partners, export and the fsck-style verify.

Appends run inside the caller's transaction (the record stage's, a profile change's, an
approval's), so a release and its leaf commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection

from tearline.canonical import to_micros
from tearline.clock import Clock
from tearline.crypto.keys import load_signing_key, public_key_bytes
from tearline.errors import InvalidInput, NotFound
from tearline.ledger import leaves as leafmod
from tearline.ledger.checkpoint import SignedHead, sign_head
from tearline.store import ledger as store
from tearline.store.engine import Database


@dataclass(frozen=True)
class Proof:
    seq: int
    size: int
    leaf: bytes
    leaf_hash: bytes
    path: list[bytes]
    head: SignedHead


class Ledger:
    def __init__(self, db: Database, clock: Clock, origin: str, keys_dir: Path) -> None:
        self.db = db
        self.clock = clock
        self.origin = origin
        self.keys_dir = keys_dir
        self._key: Ed25519PrivateKey | None = None

    @property
    def key(self) -> Ed25519PrivateKey:
        if self._key is None:
            self._key = load_signing_key(self.keys_dir)
        return self._key

    def public_key(self) -> bytes:
        return public_key_bytes(self.key)

    # -- appending (inside the caller's transaction) --------------------------------------
    def append(self, conn: Connection, leaves: Sequence[Mapping[str, Any]]) -> range:
        return store.append_leaves(conn, leaves)

    def release(
        self, conn: Connection, *, time: datetime, partner: str, object_id: str, version: str, sha256: str,
        verdict: str, reasons: Sequence[str],
    ) -> int:
        leaf = leafmod.release_leaf(
            time=time, partner=partner, object_id=object_id, version=version, sha256=sha256, verdict=verdict,
            reasons=list(reasons),
        )
        return self.append(conn, [leaf])[0]

    def profile(self, conn: Connection, *, time: datetime, partner: str, version: int, reason: str,
                approved_by: str) -> int:
        leaf = leafmod.profile_leaf(time=time, partner=partner, version=version, reason=reason,
                                    approved_by=approved_by)
        return self.append(conn, [leaf])[0]

    def approval(self, conn: Connection, *, time: datetime, partner: str, object_id: str, by: str,
                 reason: str, revoked: bool = False) -> int:
        if revoked:
            leaf = leafmod.revocation_leaf(time=time, partner=partner, object_id=object_id, revoked_by=by,
                                           reason=reason)
        else:
            leaf = leafmod.approval_leaf(time=time, partner=partner, object_id=object_id, approved_by=by,
                                         reason=reason)
        return self.append(conn, [leaf])[0]

    def alert(self, conn: Connection, *, time: datetime, partner: str, object_id: str, version: str,
              field: str) -> int:
        leaf = leafmod.alert_leaf(time=time, partner=partner, object_id=object_id, version=version, field=field)
        return self.append(conn, [leaf])[0]

    def reveal(self, conn: Connection, *, time: datetime, source: str, by: str, reason: str) -> int:
        return self.append(conn, [leafmod.reveal_leaf(time=time, source=source, by=by, reason=reason)])[0]

    # -- heads ----------------------------------------------------------------------------
    def head(self, *, sign: bool = True) -> SignedHead | None:
        """The latest signed tree head; signs a new one first when the log has grown (``sign``)."""
        with self.db.write() as conn:
            latest = store.latest_head(conn, self.origin)
            size = store.size(conn)
            if sign and (latest is None or latest.size < size):
                head = sign_head(self.key, self.origin, size, store.root(conn, size), to_micros(self.clock.now()))
                store.store_head(conn, head)
                return head
            return latest


    def size(self) -> int:
        with self.db.read() as conn:
            return store.size(conn)

    # -- proofs ---------------------------------------------------------------------------
    def prove(self, seq: int, size: int | None = None) -> Proof:
        head = self.head()
        if head is None or head.size == 0:
            raise NotFound("the ledger is empty")
        tree_size = head.size if size is None else size
        if not 0 <= seq < tree_size <= head.size:
            raise InvalidInput(f"seq `{seq}` is not in a tree of size `{tree_size}`")
        with self.db.read() as conn:
            leaf = store.get_leaves(conn, seq, seq + 1)[0]
            path = store.inclusion_proof(conn, seq, tree_size)
            if tree_size != head.size:
                heads = [h for h in store.list_heads(conn, self.origin) if h.size == tree_size]
                if not heads:
                    raise NotFound(f"no signed head of size `{tree_size}`")
                head = heads[0]
        return Proof(seq=seq, size=tree_size, leaf=leaf.leaf, leaf_hash=leaf.leaf_hash, path=path, head=head)

    def consistency(self, first: int, second: int | None = None) -> tuple[int, int, list[bytes]]:
        head = self.head()
        top = head.size if head else 0
        second = top if second is None else second
        if not 0 <= first <= second <= top:
            raise InvalidInput(f"sizes `{first}` and `{second}` must satisfy 0 <= first <= second <= {top}")
        with self.db.read() as conn:
            return first, second, store.consistency_proof(conn, first, second)

    def verify(self) -> store.FsckReport:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        pub = Ed25519PublicKey.from_public_bytes(self.public_key())
        with self.db.read() as conn:
            return store.verify_store(conn, pub, self.origin)

    def export(self) -> Iterator[dict[str, Any]]:
        """Leaves and heads as JSON-lines objects, in the order docs/ledger.md gives."""
        with self.db.read() as conn:
            heads = store.list_heads(conn, self.origin, limit=10**9)
            by_size: dict[int, list[SignedHead]] = {}
            for h in heads:
                by_size.setdefault(h.size, []).append(h)
            for h in by_size.get(0, []):
                yield {"type": "head", **h.to_json()}
            for leaf in store.iter_leaves(conn):
                yield {"type": "leaf", "seq": leaf.seq, "leaf": leaf.leaf.decode("utf-8")}
                for h in by_size.get(leaf.seq + 1, []):
                    yield {"type": "head", **h.to_json()}

    def partner_leaves(self, partner: str, start: int, end: int) -> list[dict[str, Any]]:
        """Leaf hashes of a range; the leaf bytes only on the partner's own entries."""
        with self.db.read() as conn:
            rows = store.get_leaves(conn, start, end)
        out = []
        for r in rows:
            entry: dict[str, Any] = {"seq": r.seq, "leaf_hash": r.leaf_hash.hex()}
            if r.partner == partner:
                entry["leaf"] = r.leaf.decode("utf-8")
            out.append(entry)
        return out

    def psi(self, conn: Connection, **fields: Any) -> int:
        """A PSI session (:func:`tearline.ledger.leaves.psi_leaf`): sizes, never values."""
        return self.append(conn, [leafmod.psi_leaf(**fields)])[0]

    def psi_sessions(self, partner: str, since_us: int) -> list[dict[str, Any]]:
        """A partner's PSI session leaves from ``since_us`` on (for its budget)."""
        import orjson

        with self.db.read() as conn:
            return [orjson.loads(r.leaf) for r in store.kind_leaves(conn, "psi", partner, since_us)]
