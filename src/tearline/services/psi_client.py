"""Asking a peer for a private set intersection (``tearline psi query PEER``).

Our items are every value of the asked types in our own store, normalised (docs/psi.md) and
blinded under a fresh client key by the library; only the blinded request leaves, to the peer's
``/psi/v1/query`` with the token the peer issued us (the registered peer, as ``sync`` uses it). The
result is computed here; the session is a ``psi`` leaf (role ``client``) with sizes, never values.
Values that appear in our store are read from it directly: nothing of their text leaves this node.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import urljoin

import orjson

from tearline.clock import Clock
from tearline.errors import InvalidInput
from tearline.services import psi
from tearline.services.ledger import Ledger
from tearline.services.sync import PeerClient, PeerError, Peers
from tearline.store import objects as objects_store
from tearline.store.engine import Database


@dataclass(frozen=True)
class QueryResult:
    peer: str
    types: tuple[str, ...]
    client_size: int
    server_size: int
    count: int
    values: list[str] | None  # None in cardinality-only mode

    def to_json(self) -> dict[str, object]:
        return {"peer": self.peer, "types": list(self.types), "client_size": self.client_size,
                "server_size": self.server_size, "count": self.count, "values": self.values}


def show(item: str) -> tuple[str, str]:
    kind, _, value = item.partition("\x1f")
    return kind, value


class PsiQuerier:
    def __init__(self, db: Database, clock: Clock, peers: Peers, ledger: Ledger) -> None:
        self.db, self.clock, self.peers, self.ledger = db, clock, peers, ledger

    def our_items(self, kinds: tuple[str, ...]) -> set[str]:
        with self.db.read() as conn:
            return psi.items_from_bodies((r.body for r in objects_store.iter_bodies(conn)), kinds)  # type: ignore[attr-defined]

    def query(self, code: str, types: str, *, cardinality_only: bool) -> QueryResult:
        try:
            kinds = psi.parse_kinds(types)
        except psi.PsiError as exc:
            raise InvalidInput(str(exc)) from None
        peer = self.peers.get(code)
        items = sorted(self.our_items(kinds))
        client = psi.Client(items, cardinality_only=cardinality_only)
        body = {"types": ",".join(kinds), "cardinality_only": cardinality_only,
                "request": base64.b64encode(client.request()).decode()}
        with PeerClient(peer, timeout=300.0) as pc:
            resp = pc.http.post(urljoin(peer.url, "/psi/v1/query"), content=orjson.dumps(body),
                                headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            doc = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            doc = {}
        if resp.status_code != 200:
            why = doc.get("description") if isinstance(doc, dict) else ""
            raise PeerError(f"peer `{peer.code}` refused the PSI query (http {resp.status_code}): {why or 'no reason'}")
        result = client.result(base64.b64decode(doc["setup"]), base64.b64decode(doc["response"]))
        count = result if isinstance(result, int) else len(result)
        with self.db.write() as conn:
            self.ledger.psi(conn, time=self.clock.now(), partner=peer.code, role="client", types=list(kinds),
                            mode="cardinality" if cardinality_only else "values", client_size=len(client.items),
                            server_size=int(doc["server_size"]), outcome="answered", reason="",
                            result_size=count)
        return QueryResult(peer.code, kinds, len(client.items), int(doc["server_size"]), count,
                           None if isinstance(result, int) else list(result))
