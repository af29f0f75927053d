"""Answering a partner's PSI query (``/psi/v1/query``): budget, server set, answer, ledger leaf.

One round trip: the partner sends its encrypted request (its items, blinded under its own key), the
types and the mode; this node checks the partner's budget against its ``psi`` ledger leaves of the
last 24 hours, builds its set from what the release pipeline would release to that partner
(:func:`tearline.services.psi.released_items`), and returns its setup message and its answer. Every
session, answered or refused, is a ``psi`` leaf (sizes only). The server learns the client's set
size and nothing else; the result is computed on the client.

The server set is built per query (sized for this query), not yet from :class:`CachedSet`: the set
depends on the partner's profile and the mode fixes the key, so a cache per (partner, types, mode)
invalidated on ingest and profile change is the next step (docs/psi.md).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from tearline.canonical import from_micros, parse_timestamp, to_micros
from tearline.clock import Clock
from tearline.errors import TearlineError
from tearline.services import psi
from tearline.services.ledger import Ledger
from tearline.services.release import ReleasePipeline
from tearline.store import objects as objects_store
from tearline.store.engine import Database

MAX_REQUEST_BYTES = 16 * 1024 * 1024
BATCH = 5000


class PsiRefused(TearlineError):
    """A query refused by the budget (HTTP 429 with the reason)."""

    code = "psi-refused"
    http_status = 429


@dataclass(frozen=True)
class Answer:
    setup: bytes
    response: bytes
    server_size: int


class PsiServer:
    def __init__(self, db: Database, clock: Clock, release: ReleasePipeline, ledger: Ledger,
                 budget: psi.Budget | None = None) -> None:
        self.db, self.clock, self.release, self.ledger = db, clock, release, ledger
        self.budget = budget or psi.Budget()
        self._lock = threading.Lock()  # one budget check + leaf at a time: no race past the budget

    def _server_items(self, partner: str, kinds: Sequence[str]) -> set[str]:
        with self.db.read() as conn:
            top = objects_store.max_seq(conn)
        items: set[str] = set()
        for start in range(1, top + 1, BATCH):
            items |= psi.released_items(self.release, partner, list(range(start, min(top, start + BATCH - 1) + 1)),
                                        kinds)
        return items

    def answer(self, partner: str, types: str, cardinality_only: bool, request: bytes) -> Answer:
        kinds = psi.parse_kinds(types)
        if len(request) > MAX_REQUEST_BYTES:
            raise psi.PsiError(f"request of {len(request)} bytes is over {MAX_REQUEST_BYTES}")
        lib = psi._lib()
        req = lib.Request()
        try:
            req.ParseFromString(request)
        except Exception as exc:  # the library raises its own decode error
            raise psi.PsiError("the request is not a PSI request message") from exc
        if bool(req.reveal_intersection) == cardinality_only:
            raise psi.PsiError("the request's mode does not match `cardinality_only`")
        client_size = len(req.encrypted_elements)
        mode = "cardinality" if cardinality_only else "values"
        with self._lock:
            now = self.clock.now()
            now_us = to_micros(now)
            past = [psi.Session(at_us=to_micros(parse_timestamp(leaf["time"])), client_size=int(leaf["client_size"]))
                    for leaf in self.ledger.psi_sessions(partner, now_us - psi.DAY_US)
                    if leaf.get("role") == "server" and leaf.get("outcome") == "answered"]
            try:
                psi.check_budget(self.budget, past, client_size, now_us)
            except psi.PsiError as exc:
                self._record(now_us, partner, kinds, mode, client_size, 0, "refused", str(exc))
                raise PsiRefused(str(exc)) from exc
            items = sorted(self._server_items(partner, kinds))
            ss = psi.server_setup(items, client_size, cardinality_only=cardinality_only)
            response = psi.server_answer(ss, request)
            self._record(now_us, partner, kinds, mode, client_size, len(items), "answered", "")
        return Answer(setup=ss.setup, response=response, server_size=len(items))

    def _record(self, now_us: int, partner: str, kinds: Sequence[str], mode: str, client_size: int,
                server_size: int, outcome: str, reason: str) -> None:
        with self.db.write() as conn:
            self.ledger.psi(conn, time=from_micros(now_us), partner=partner, role="server", types=list(kinds),
                            mode=mode, client_size=client_size, server_size=server_size, outcome=outcome,
                            reason=reason)
