"""Pull: new objects from a peer's readable collections, incrementally and resumably.

Per (peer, remote collection) a cursor keeps the ``added_after`` of the crawl in progress, the
peer's ``next`` token and the highest ``X-TAXII-Date-Added-Last`` seen; it is saved after each page
is committed, so an interrupted pull resumes at the page after the last committed one (a page
fetched again is harmless: a stored version is never stored twice). When a crawl ends, the next
one asks ``added_after`` the highest date added seen. A ``next`` the peer refuses (its cursor key
rotated) restarts the crawl from ``added_after``. The next page is fetched while the current one
is validated and stored.

What comes in is treated like what the peer posts to its inbox: validated like ingest (no
protected-term check: its rejection message would tell the peer about our terms), labelled by its
markings with the peer as originator (so the third-party rule applies to it), and stored in the
peer's inbox collection (``inbox-<code>``): a pull and a push of the same version meet there and are
stored once, the peer reads it back only as its own (``OWN_OBJECT``), and no other partner can read
an inbox. An object this node itself originated, coming back, is refused. Every refused object is
recorded with its reason (``sync_rejections``): for good (invalid, our own), or as pending when it
refers to a marking definition that could not be had yet. After its crawl, every pull fetches a
bounded number of the peer's pending objects again by id and version and takes them like a page;
each retry's outcome is recorded (stored, gone, still pending, refused; refused after
``MAX_ATTEMPTS`` tries).

Marking definitions are taken from the page itself, then from definitions this peer sent before
(stored in its inbox), then fetched by id from the same collection.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from tearline.canonical import parse_timestamp, to_micros
from tearline.clock import Clock
from tearline.errors import NotFound
from tearline.services import collector
from tearline.services.intake import IngestSummary, Intake, version_of
from tearline.services.node import NodeInfo
from tearline.services.prepare import owned_by_all
from tearline.services.sync import Peer, PeerClient, PeerError, RunReport
from tearline.stix.markings import TLP_MARKING_IDS, marking_refs
from tearline.stix.reader import RawObject, Unit
from tearline.store import nodes
from tearline.store import sync as store
from tearline.store.engine import Database

PAGE = 1000
RETRY_BATCH = 200  # pending rejections fetched again per pull of one peer
MAX_ATTEMPTS = 24  # retries before a pending rejection is refused for good (2 hours at `--sync-every 5m`)
MAX_PAGES = 100_000  # a bound on one run's loop (a peer that never says `more: false`)


@dataclass
class _Run:
    peer: Peer
    client: PeerClient
    inbox: str
    report: RunReport
    definitions: dict[str, dict[str, Any]]
    missing: set[str]
    fresh: set[tuple[str, str]] = field(default_factory=set)  # (id, version) refused in this run


class Puller:
    def __init__(self, db: Database, clock: Clock, intake: Intake, info: NodeInfo, *, page: int = PAGE,
                 retry_batch: int = RETRY_BATCH, max_attempts: int = MAX_ATTEMPTS,
                 stop: threading.Event | None = None) -> None:
        self.db = db
        self.stop = stop  # set: end the pull after the page in hand (its cursor is saved)
        self.clock = clock
        self.intake = intake
        self.info = info
        self.page = page
        self.retry_batch = retry_batch
        self.max_attempts = max_attempts

    def pull(self, peer: Peer, *, transport: httpx.BaseTransport | None = None) -> RunReport:
        report = RunReport(peer.code, "pull")
        with self.db.read() as conn:
            inbox = nodes.inbox_of(conn, peer.code)
            if inbox is None:
                raise NotFound(f"partner `{peer.code}` has no inbox on this node")
            known = {k: orjson.loads(v) for k, v in store.marking_definitions(conn, inbox.id).items()}
        with PeerClient(peer, transport=transport) as client:
            run = _Run(peer, client, inbox.id, report, known, set())
            for col in self._collections(client, peer):
                if self._stopping():
                    return report
                self._crawl(run, col)
            if not self._stopping():
                self._retry(run)
        return report

    def _stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    @staticmethod
    def _collections(client: PeerClient, peer: Peer) -> list[str]:
        """The collection ids to pull: those named for the peer, else every readable one it does
        not let us write (our inbox there holds what we sent)."""
        cols = client.collections()
        if peer.collections:
            chosen = []
            for want in peer.collections:
                match = [c for c in cols if want in (c.get("id"), c.get("alias"))]
                if not match:
                    raise PeerError(f"peer `{peer.code}` has no collection `{want}` readable by this node")
                chosen.append(str(match[0]["id"]))
            return chosen
        return [str(c["id"]) for c in cols if c.get("can_read") and not c.get("can_write")]

    # -- one collection ---------------------------------------------------------------------------
    def _crawl(self, run: _Run, collection: str) -> None:
        with self.db.read() as conn:
            cur = store.get_cursor(conn, run.peer.code, collection)
        url = run.client.objects_url(collection)
        base = {"match[version]": "all", "limit": str(self.page)}
        if cur.added_after:
            base["added_after"] = cur.added_after

        def fetch(nxt: str | None) -> httpx.Response:
            return run.client.request("GET", url, params={**base, **({"next": nxt} if nxt else {})})

        nxt, high = cur.next, cur.high
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tearline-pull") as pool:
            resp = fetch(nxt)
            if resp.status_code == 400 and nxt:  # the peer no longer knows this cursor: start the crawl again
                nxt, high = None, None
                resp = fetch(None)
            for _ in range(MAX_PAGES):
                with collector.paused():  # a page parsed, stored and freed (see `tearline.services.collector`)
                    doc = run.client.json(resp, "get objects")
                    objs = doc.get("objects", [])
                    more = doc.get("more") is True
                    nxt = doc.get("next") if more else None
                    if not isinstance(objs, list) or (more and not isinstance(nxt, str)):
                        raise PeerError(f"peer `{run.peer.code}` answered a bad envelope")
                    ahead: Future[httpx.Response] | None = pool.submit(fetch, nxt) if more else None
                    try:
                        self._store_page(run, objs, collection)
                    except BaseException:
                        if ahead is not None:
                            ahead.cancel()
                        raise
                    del doc, objs  # before the collector resumes, or its first pass walks the page
                high = _later(high, resp.headers.get("x-taxii-date-added-last"))
                done = store.Cursor(high or cur.added_after, None, None)
                saved = store.Cursor(cur.added_after, nxt, high) if more else done
                with self.db.write() as conn:
                    store.set_cursor(conn, run.peer.code, collection, saved, to_micros(self.clock.now()))
                run.report.pages += 1
                if ahead is None:
                    return
                if self._stopping():  # the cursor above resumes the crawl at the next page
                    ahead.cancel()
                    return
                resp = ahead.result()
        raise PeerError(f"peer `{run.peer.code}` kept answering `more` past {MAX_PAGES} pages")

    # -- one page ---------------------------------------------------------------------------------
    def _store_page(self, run: _Run, objs: Sequence[Any], collection: str) -> None:
        refused, _ = self._take(run, objs)
        if refused:
            at = to_micros(self.clock.now())
            items = [
                store.Rejection(run.peer.code, "pull", *_ref(o), reason, at, collection,
                                "pending" if pending else "refused")
                for o, reason, pending in refused
            ]
            with self.db.write() as conn:
                store.add_rejections(conn, items)
            run.fresh.update((r.stix_id, r.version) for r in items)
            run.report.rejected += len(items)
            run.report.rejections.extend(items)

    def _take(self, run: _Run, objs: Sequence[Any]) -> tuple[list[tuple[Any, str, bool]], set[int]]:
        """Validate, label and store what a peer sent: (refused objects with the reason and whether
        it may pass later, ids (``id()``) of the objects stored or already stored).

        An object that refers to a marking definition neither the page, the peer's earlier
        definitions nor a fetch by id could provide may pass once the definition is known: it is
        refused as pending. Anything else refused (invalid STIX, an object this node originated,
        a definition that makes no sense) is refused for good.
        """
        code = run.peer.code
        rejected: list[tuple[Any, str, bool]] = []
        candidates: list[dict[str, Any]] = []
        for obj in objs:
            if not isinstance(obj, dict):
                rejected.append((obj, "not a JSON object", False))
                continue
            if obj.get("type") == "marking-definition" and isinstance(obj.get("id"), str):
                run.definitions.setdefault(obj["id"], obj)
            candidates.append(obj)
        refs = [marking_refs(o) for o in candidates]
        self._resolve(run, refs)
        with self.db.read() as conn:
            mine = store.own_ids(conn, [str(o.get("id", "")) for o in candidates])
        known = run.definitions.keys() | _TLP_IDS
        keep = []
        for obj, marked in zip(candidates, refs, strict=True):
            unknown = sorted(marked - known) if marked else None
            if obj.get("id") in mine and obj.get("type") != "marking-definition":
                rejected.append((obj, "an object this node originated", False))
            elif unknown:
                rejected.append((obj, f"unknown marking definition `{unknown[0]}`", True))
            else:
                keep.append(obj)
        unit = Unit(
            source=f"peer {code}", kind="envelope", objects=[RawObject(i, o) for i, o in enumerate(keep)],
            definitions=run.definitions,
        )
        default = replace(self.info.default_label, originator=code)
        good, problems = self.intake.prepare_unit(unit, default=default, checks=False)
        good_ids = {id(p.obj) for p in good}
        refused = iter(problems)
        rejected.extend((o, next(refused, "refused"), False) for o in keep if id(o) not in good_ids)
        summary = IngestSummary()
        if good:
            self.intake.store(
                owned_by_all(good, code), collection_id=run.inbox, added=self.clock.now(),
                summary=summary, posted_by=code,
            )
        run.report.objects += summary.new
        run.report.duplicates += summary.duplicate
        return rejected, good_ids

    # -- retries of pending rejections --------------------------------------------------------------
    def _retry(self, run: _Run) -> None:
        """Fetch again, by id and version, objects refused as pending, and take them like a page.

        Outcomes: ``stored`` (stored now, or it came meanwhile by a push or another pull);
        ``gone`` (the peer no longer lets this node see it); ``refused`` (refused for good, or
        still pending after ``max_attempts`` tries); else it stays ``pending``. A peer failing
        during a retry fails the pull; the attempt is recorded.
        """
        with self.db.read() as conn:
            pending = store.pending_rejections(conn, run.peer.code, self.retry_batch)
        for rej in pending:
            if (rej.stix_id, rej.version) in run.fresh:
                continue  # refused a moment ago: tried at the next pull
            attempts = rej.attempts + 1
            try:
                state, outcome = self._retry_one(run, rej)
            except PeerError as exc:
                self._settle(run, rej, "pending", exc.message, attempts)
                raise
            if state == "pending" and attempts >= self.max_attempts:
                state, outcome = "refused", f"gave up after {attempts} attempts: {outcome}"
            self._settle(run, rej, state, outcome, attempts)

    def _retry_one(self, run: _Run, rej: store.Rejection) -> tuple[str, str]:
        with self.db.read() as conn:
            if store.has_version(conn, run.inbox, rej.stix_id, rej.version):
                return "stored", "stored since by a push or another pull"
        if rej.collection is None:
            return "refused", "no collection recorded to fetch it from"
        url = run.client.objects_url(rej.collection) + quote(rej.stix_id, safe="") + "/"
        resp = run.client.request("GET", url, params={"match[version]": "all"})
        if resp.status_code == 404:
            return "gone", "the peer no longer serves it to this node"
        doc = run.client.json(resp, "get an object")
        found = [o for o in doc.get("objects") or [] if isinstance(o, dict) and o.get("id") == rej.stix_id
                 and version_of(o) == rej.version]
        if not found:
            return "gone", "the peer no longer serves this version to this node"
        refused, stored = self._take(run, found[:1])
        if stored:
            run.report.recovered += 1
            return "stored", "stored"
        _, reason, pending = refused[0]
        return ("pending" if pending else "refused"), reason

    def _settle(self, run: _Run, rej: store.Rejection, state: str, outcome: str, attempts: int) -> None:
        assert rej.id is not None
        with self.db.write() as conn:
            store.settle_rejection(conn, rej.id, state=state, outcome=outcome, attempts=attempts,
                                   at_us=to_micros(self.clock.now()))
        run.report.retried += 1

    def _resolve(self, run: _Run, refs: Sequence[frozenset[str]]) -> None:
        """Fetch, by id from the peer, marking definitions a page refers to (``refs``: each object's
        marking refs) but does not carry."""
        wanted: set[str] = set().union(*refs)
        for ref in sorted(wanted - run.definitions.keys() - _TLP_IDS - run.missing):
            for col in self._collections(run.client, run.peer):
                resp = run.client.request("GET", run.client.objects_url(col) + quote(ref, safe="") + "/")
                if resp.status_code != 200:
                    continue
                found = [d for d in run.client.json(resp, "get an object").get("objects", [])
                         if isinstance(d, dict) and d.get("id") == ref]
                if found:
                    run.definitions[ref] = found[-1]
                    break
            else:
                run.missing.add(ref)


_TLP_IDS = frozenset(TLP_MARKING_IDS)


def _later(a: str | None, b: str | None) -> str | None:
    """The later of two TAXII timestamps (a malformed header is ignored)."""
    if b is None:
        return a
    try:
        tb = parse_timestamp(b)
    except Exception:
        return a
    return b if a is None or tb > parse_timestamp(a) else a


def _ref(obj: Any) -> tuple[str, str]:
    if not isinstance(obj, dict):
        return "", ""
    return str(obj.get("id", ""))[:200], str(version_of(obj))[:40]
