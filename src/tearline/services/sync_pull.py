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
recorded with its reason (``sync_rejections``).

Marking definitions are taken from the page itself, then from definitions this peer sent before
(stored in its inbox), then fetched by id from the same collection.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from tearline.canonical import parse_timestamp, to_micros
from tearline.clock import Clock
from tearline.errors import NotFound
from tearline.model.markings import MarkedItem
from tearline.services.intake import IngestSummary, Intake, version_of
from tearline.services.node import NodeInfo
from tearline.services.sync import Peer, PeerClient, PeerError, RunReport
from tearline.stix.reader import RawObject, Unit
from tearline.store import nodes
from tearline.store import sync as store
from tearline.store.engine import Database

PAGE = 1000
MAX_PAGES = 100_000  # a bound on one run's loop (a peer that never says `more: false`)


@dataclass
class _Run:
    peer: Peer
    client: PeerClient
    inbox: str
    report: RunReport
    definitions: dict[str, dict[str, Any]]
    missing: set[str]


class Puller:
    def __init__(self, db: Database, clock: Clock, intake: Intake, info: NodeInfo, *, page: int = PAGE) -> None:
        self.db = db
        self.clock = clock
        self.intake = intake
        self.info = info
        self.page = page

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
                self._crawl(run, col)
        return report

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
                doc = run.client.json(resp, "get objects")
                objs = doc.get("objects", [])
                more = doc.get("more") is True
                nxt = doc.get("next") if more else None
                if not isinstance(objs, list) or (more and not isinstance(nxt, str)):
                    raise PeerError(f"peer `{run.peer.code}` answered a bad envelope")
                ahead: Future[httpx.Response] | None = pool.submit(fetch, nxt) if more else None
                try:
                    self._store_page(run, objs)
                except BaseException:
                    if ahead is not None:
                        ahead.cancel()
                    raise
                high = _later(high, resp.headers.get("x-taxii-date-added-last"))
                done = store.Cursor(high or cur.added_after, None, None)
                saved = store.Cursor(cur.added_after, nxt, high) if more else done
                with self.db.write() as conn:
                    store.set_cursor(conn, run.peer.code, collection, saved, to_micros(self.clock.now()))
                run.report.pages += 1
                if ahead is None:
                    return
                resp = ahead.result()
        raise PeerError(f"peer `{run.peer.code}` kept answering `more` past {MAX_PAGES} pages")

    # -- one page ---------------------------------------------------------------------------------
    def _store_page(self, run: _Run, objs: Sequence[Any]) -> None:
        code = run.peer.code
        rejected: list[tuple[Any, str]] = []
        candidates: list[dict[str, Any]] = []
        for obj in objs:
            if not isinstance(obj, dict):
                rejected.append((obj, "not a JSON object"))
                continue
            if obj.get("type") == "marking-definition" and isinstance(obj.get("id"), str):
                run.definitions.setdefault(obj["id"], obj)
            candidates.append(obj)
        self._resolve(run, candidates)
        with self.db.read() as conn:
            mine = store.own_ids(conn, [str(o.get("id", "")) for o in candidates])
        keep = []
        for obj in candidates:
            if obj.get("id") in mine and obj.get("type") != "marking-definition":
                rejected.append((obj, "an object this node originated"))
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
        rejected.extend((o, next(refused, "refused")) for o in keep if id(o) not in good_ids)
        summary = IngestSummary()
        if good:
            memo: dict[MarkedItem, MarkedItem] = {}
            self.intake.store(
                [p.owned_by(code, memo) for p in good], collection_id=run.inbox, added=self.clock.now(),
                summary=summary, posted_by=code,
            )
        run.report.objects += summary.new
        run.report.duplicates += summary.duplicate
        if rejected:
            at = to_micros(self.clock.now())
            items = [store.Rejection(code, "pull", *_ref(o), reason, at) for o, reason in rejected]
            with self.db.write() as conn:
                store.add_rejections(conn, items)
            run.report.rejected += len(items)
            run.report.rejections.extend(items)

    def _resolve(self, run: _Run, objs: Sequence[dict[str, Any]]) -> None:
        """Fetch, by id from the peer, marking definitions the page refers to but does not carry."""
        wanted: set[str] = set()
        for o in objs:
            refs = list(o.get("object_marking_refs") or [])
            refs += [g.get("marking_ref") for g in o.get("granular_markings") or [] if isinstance(g, dict)]
            wanted.update(r for r in refs if isinstance(r, str) and r.startswith("marking-definition--"))
        from tearline.stix.markings import TLP_MARKING_IDS

        for ref in sorted(wanted - set(run.definitions) - set(TLP_MARKING_IDS) - run.missing):
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
