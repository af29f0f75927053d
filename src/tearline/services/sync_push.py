"""Push: send a peer, through its writable collection (its inbox for this node), exactly what the
release pipeline releases to it, and nothing else.

Candidates are the stored versions of the collections this node shares (``shared`` and
``custom``) that the peer's materialised decisions release now and the peer has not confirmed yet
(``sync_pushed``), in ``seq`` order; never the peer's own objects back (the receiver would take
them as ours). Each bounded batch goes through :meth:`ReleasePipeline.release` with channel
``push`` (recorded in the releases table and the ledger); only the bytes it releases are posted,
with the marking definitions they reference. The status resource is followed until every object
is accepted or refused (or a bound runs out); confirmed versions are recorded, so an interrupted
push resumes with what is still unconfirmed, and a version released later (an embargo ends, a
profile is restored) is still sent. After a scale-back the pipeline withholds the excluded topic,
so nothing more of it is sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx

from tearline.canonical import to_micros
from tearline.clock import Clock
from tearline.errors import NotFound
from tearline.services.decisions import Decisions
from tearline.services.release import Outcome, ReleasePipeline
from tearline.services.sync import Peer, PeerClient, PeerError, RunReport
from tearline.store import sync as store
from tearline.store.engine import Database

BATCH = 500  # object versions per POST (fewer when the peer's `max_content_length` says so)
STATUS_POLLS = 8  # times a pending status is asked again, with doubling waits from STATUS_WAIT_S
STATUS_WAIT_S = 0.1
DEFAULT_MAX_BYTES = 10 * 1024 * 1024


class Pusher:
    def __init__(self, db: Database, clock: Clock, decisions: Decisions, release: ReleasePipeline,
                 *, batch: int = BATCH, stop: threading.Event | None = None) -> None:
        self.db = db
        self.clock = clock
        self.decisions = decisions
        self.release = release
        self.batch = batch
        self.stop = stop  # set: end the push after the batch in hand (what is left goes next time)

    def _stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def candidates(self, code: str, *, unconfirmed: bool = True) -> list[int]:
        """Seqs the peer's decisions release now (and, by default, it has not confirmed), in seq order."""
        try:
            view = self.decisions.view(code)
        except LookupError:
            raise NotFound(f"partner `{code}` has no profile in force") from None
        with self.db.read() as conn:
            scope = store.shared_collections(conn)
            done = store.pushed_seqs(conn, code) if unconfirmed else set()
            rows = list(store.push_candidates(conn, scope, code))
        out: list[int] = []
        for row in rows:
            seq, added = int(row[0]), int(row[1])  # type: ignore[index]
            if seq not in done and view.released(seq, added):
                out.append(seq)
        return out

    def releasable(self, code: str) -> list[Outcome]:
        """Everything a push offers the peer now, as the pipeline releases it (a preview: not recorded)."""
        seqs = self.candidates(code, unconfirmed=False)
        out: list[Outcome] = []
        for start in range(0, len(seqs), self.batch):
            out.extend(o for o in self.release.release(code, seqs[start : start + self.batch], channel="preview")
                       if o.body is not None)
        return out

    def push(self, peer: Peer, *, transport: httpx.BaseTransport | None = None) -> RunReport:
        report = RunReport(peer.code, "push")
        seqs = self.candidates(peer.code)
        if not seqs:
            return report
        with PeerClient(peer, transport=transport) as client:
            target = next((c for c in client.collections() if c.get("can_write")), None)
            if target is None:
                raise PeerError(f"peer `{peer.code}` offers no collection this node can write to")
            limit = client.api_root().get("max_content_length")
            max_bytes = int(limit) if isinstance(limit, int) and limit > 0 else DEFAULT_MAX_BYTES
            url = client.objects_url(str(target["id"]))
            for start in range(0, len(seqs), self.batch):
                if start and self._stopping():
                    # what was posted is marked; the rest are still unconfirmed candidates
                    break
                outs = self.release.release(peer.code, seqs[start : start + self.batch], channel="push")
                sent = [o for o in outs if o.body is not None]
                report.withheld += len(outs) - len(sent)
                for part in _split(sent, max_bytes):
                    self._post(client, url, peer.code, part, report)
        return report

    def _post(self, client: PeerClient, url: str, code: str, outs: Sequence[Outcome], report: RunReport) -> None:
        defs: dict[str, bytes] = {}
        for o in outs:
            for d in o.definitions:
                defs.setdefault(d.id, d.body)
        for o in outs:  # a definition that goes in this envelope as an object is not sent twice
            defs.pop(o.stix_id, None)
        body = _envelope([o.body for o in outs if o.body is not None], [defs[k] for k in sorted(defs)])
        resp = client.request("POST", url, content=body, headers={"Content-Type": "application/taxii+json;version=2.1"})
        status = client.json(resp, "add objects")
        status = self._follow(client, status)
        report.pages += 1
        ok = {(s.get("id"), s.get("version")) for s in _records(status, "successes")}
        failed = {(f.get("id"), f.get("version")): str(f.get("message", "refused"))[:500]
                  for f in _records(status, "failures")}
        marks: list[tuple[int, str]] = []
        rejections: list[store.Rejection] = []
        at = to_micros(self.clock.now())
        for o in outs:
            key = (o.stix_id, o.version)
            if key in ok:
                marks.append((o.seq, "accepted"))
            elif key in failed:
                marks.append((o.seq, "rejected"))
                rejections.append(store.Rejection(code, "push", o.stix_id, o.version, failed[key], at))
        with self.db.write() as conn:
            store.mark_pushed(conn, code, marks, at)
            store.add_rejections(conn, rejections)
        report.objects += sum(1 for _, m in marks if m == "accepted")
        report.rejected += len(rejections)
        report.rejections.extend(rejections)

    @staticmethod
    def _follow(client: PeerClient, status: dict[str, Any]) -> dict[str, Any]:
        """Ask the status resource again while it is pending (TAXII 2.1 §4.3)."""
        wait = STATUS_WAIT_S
        for _ in range(STATUS_POLLS):
            if status.get("status") != "pending" or not isinstance(status.get("id"), str):
                return status
            time.sleep(wait)
            wait *= 2
            status = client.json(client.request("GET", f"{client.root}status/{status['id']}/"), "get status")
        return status


def _records(status: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = status.get(key) or []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _envelope(bodies: Sequence[bytes], definitions: Sequence[bytes]) -> bytes:
    return b'{"objects":[' + b",".join([*bodies, *definitions]) + b"]}"


def _split(outs: Sequence[Outcome], max_bytes: int) -> list[list[Outcome]]:
    """Batches whose envelope (with room for the definitions) stays under the peer's limit."""
    budget = max(max_bytes * 3 // 4, 1024)
    parts: list[list[Outcome]] = []
    cur: list[Outcome] = []
    size = 0
    for o in outs:
        n = len(o.body or b"") + 1 + sum(len(d.body) + 1 for d in o.definitions)
        if cur and size + n > budget:
            parts.append(cur)
            cur, size = [], 0
        cur.append(o)
        size += n
    if cur:
        parts.append(cur)
    return parts
