"""Federation: peers (partners whose TAXII node this node talks to), and the runs that pull from
and push to them, each peer backed off on its own when it fails.

The client side speaks TAXII 2.1 with ``httpx`` rather than ``taxii2-client``: a pull needs the raw
page bytes (parsed once with orjson, not by ``requests`` + ``json``), the ``X-TAXII-Date-Added-Last``
header of every page (the resume point), explicit connect/read timeouts and a kept-alive connection
per peer, and the push needs the status resource of each POST; ``taxii2-client`` hides the first and
parses every page with the standard library. ``bench/sync.py`` measures a pull against a plain
``taxii2-client`` crawl of the same pages.

A peer's token (the one its node issued to this node) is sealed like a vault value: AES-256-GCM
under the vault's current data key, bound to the peer code, through the vault's own key handling.
"""

from __future__ import annotations

import functools
import logging
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import certifi
import httpx
import orjson

from tearline.canonical import format_timestamp, from_micros, to_micros
from tearline.clock import Clock
from tearline.errors import Conflict, InvalidInput, NotFound, TearlineError
from tearline.model.partners import check_code
from tearline.store import partners as partners_store
from tearline.store import sync as store
from tearline.store.engine import Database

if TYPE_CHECKING:
    from tearline.services.vault import Vault

log = logging.getLogger(__name__)

TAXII = "application/taxii+json;version=2.1"
RETRIES = 3  # attempts per request for transient failures (connection, 5xx, 429)
BACKOFF_S = 0.25  # first wait between attempts; doubled each time
PEER_BACKOFF = timedelta(seconds=30)  # first wait before a failing peer is tried again; doubled, capped
PEER_BACKOFF_MAX = timedelta(minutes=30)


class PeerError(TearlineError):
    """A peer answered an error, garbage, or nothing."""

    code = "peer"
    http_status = 502


@dataclass(frozen=True)
class Peer:
    code: str
    url: str
    token: str = field(repr=False)
    collections: tuple[str, ...] = ()


@functools.cache
def _tls() -> ssl.SSLContext:
    """The verifying TLS context every peer client shares (the CA bundle httpx would load itself):
    made once per process, not per client, since loading the bundle costs some 30 ms and every
    pull and push opens a client per peer."""
    return ssl.create_default_context(cafile=certifi.where())


class PeerClient:
    """One peer's TAXII server, over one kept-alive connection."""

    def __init__(self, peer: Peer, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        self.peer = peer
        self.http = httpx.Client(
            headers={"Accept": TAXII, "Authorization": f"Bearer {peer.token}"},
            timeout=httpx.Timeout(timeout, connect=5.0),
            transport=transport,
            verify=_tls(),
        )
        self._root: str | None = None
        self._collections: list[dict[str, Any]] | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> PeerClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- requests -------------------------------------------------------------------------------
    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        """One request with retries and backoff on transient failures; 4xx other than 429 is final."""
        wait = BACKOFF_S
        last = ""
        for attempt in range(RETRIES):
            try:
                resp = self.http.request(method, url, **kw)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}"
            else:
                if resp.status_code < 500 and resp.status_code != 429:
                    return resp
                last = f"http {resp.status_code}"
            if attempt + 1 < RETRIES:
                time.sleep(wait)
                wait *= 2
        raise PeerError(f"peer `{self.peer.code}` failed: {last} on {method} {url}")

    def json(self, resp: httpx.Response, what: str) -> dict[str, Any]:
        if resp.status_code not in (200, 202):
            raise PeerError(f"peer `{self.peer.code}` answered http {resp.status_code} to {what}")
        try:
            doc = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            raise PeerError(f"peer `{self.peer.code}` answered something that is not JSON to {what}") from None
        if not isinstance(doc, dict):
            raise PeerError(f"peer `{self.peer.code}` answered JSON that is not an object to {what}")
        return doc

    # -- discovery ------------------------------------------------------------------------------
    @property
    def root(self) -> str:
        """The API root: discovery's ``default``, else its first ``api_roots`` entry."""
        if self._root is None:
            doc = self.json(self.request("GET", self.peer.url), "discovery")
            roots = doc.get("api_roots")
            root = doc.get("default") or (roots[0] if isinstance(roots, list) and roots else None)
            if not isinstance(root, str) or not root:
                raise PeerError(f"peer `{self.peer.code}` names no api root at discovery")
            root = urljoin(self.peer.url, root)
            self._root = root if root.endswith("/") else root + "/"
        return self._root

    def api_root(self) -> dict[str, Any]:
        return self.json(self.request("GET", self.root), "get api root")

    def collections(self) -> list[dict[str, Any]]:
        if self._collections is None:
            doc = self.json(self.request("GET", self.root + "collections/"), "get collections")
            cols = doc.get("collections", [])
            if not isinstance(cols, list) or not all(isinstance(c, dict) and isinstance(c.get("id"), str)
                                                     for c in cols):
                raise PeerError(f"peer `{self.peer.code}` answered a bad collections list")
            self._collections = cols
        return self._collections

    def objects_url(self, collection_id: str) -> str:
        return f"{self.root}collections/{collection_id}/objects/"


# -- the service ----------------------------------------------------------------------------------------
@dataclass
class RunReport:
    """What one pull or push with one peer did."""

    peer: str
    direction: str
    objects: int = 0  # stored (pull) or accepted (push)
    duplicates: int = 0
    rejected: int = 0
    withheld: int = 0  # push: candidates the pipeline did not release
    pages: int = 0
    error: str | None = None
    skipped: bool = False  # backed off: not tried this time
    retried: int = 0  # pull: objects refused as pending before, fetched and tried again
    recovered: int = 0  # pull: of those, stored now
    next_try_us: int | None = None  # after a failure: when the background sync tries this peer again
    rejections: list[store.Rejection] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "peer": self.peer, "direction": self.direction, "objects": self.objects,
            "duplicates": self.duplicates, "rejected": self.rejected, "withheld": self.withheld,
            "pages": self.pages, "error": self.error, "skipped": self.skipped,
            "retried": self.retried, "recovered": self.recovered,
            "next_try": None if self.next_try_us is None else format_timestamp(from_micros(self.next_try_us)),
            "rejections": [{"id": r.stix_id, "version": r.version, "reason": r.reason, "state": r.state}
                           for r in self.rejections],
        }


class Peers:
    """Peer records; tokens sealed under the vault's data key."""

    def __init__(self, db: Database, clock: Clock, vault: Vault) -> None:
        self.db = db
        self.clock = clock
        self.vault = vault

    def add(
        self, code: str, url: str, token: str, collections: Sequence[str] = (), *, replace: bool = False
    ) -> Peer:
        """Link a partner's node; a code already linked is refused (Conflict) unless `replace`."""
        try:
            code = check_code(code)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        token = token.strip()
        if not token:
            raise InvalidInput("the token is empty")
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"`{url}` is not an http(s) url")
        cols = tuple(c.strip() for c in collections if c.strip())
        if any("," in c for c in cols):
            raise InvalidInput("a collection id or alias cannot contain `,`")
        with self.db.write() as conn:
            if partners_store.get_partner(conn, code) is None:
                raise NotFound(f"no partner `{code}`: add it with `tearline partner add` first")
            if not replace and store.get_peer(conn, code) is not None:
                raise Conflict(f"peer `{code}` is already linked: pass --replace to change its url or token")
            self.vault.put_secret(conn, _record(code), "token", token)
            store.put_peer(conn, store.PeerRow(code, url, cols, to_micros(self.clock.now())))
        return Peer(code, url, token, cols)

    def remove(self, code: str) -> None:
        with self.db.write() as conn:
            if not store.remove_peer(conn, code.upper()):
                raise NotFound(f"no peer `{code}`")
            self.vault.delete_secret(conn, _record(code.upper()), "token")

    def rows(self) -> list[store.PeerRow]:
        with self.db.read() as conn:
            return store.list_peers(conn)

    def get(self, code: str) -> Peer:
        with self.db.read() as conn:
            row = store.get_peer(conn, code.upper())
            if row is None:
                raise NotFound(f"no peer `{code}`")
            token = self.vault.get_secret(conn, _record(row.code), "token")
            if token is None:
                raise NotFound(f"peer `{code}` has no token: add it again with `tearline peer add`")
        return Peer(row.code, row.url, token, row.collections)

    def all(self) -> list[Peer]:
        return [self.get(r.code) for r in self.rows()]


def _record(code: str) -> str:
    return f"peer:{code}"


Runner = Callable[[Peer], RunReport]


class Federation:
    """Pull and push over every peer (or one); a failing peer is reported and backed off, never
    in the way of the others."""

    def __init__(self, db: Database, clock: Clock, peers: Peers, pull: Runner, push: Runner) -> None:
        self.db = db
        self.clock = clock
        self.peers = peers
        self.runners = {"pull": pull, "push": push}

    def run(self, direction: str, code: str | None = None, *, respect_backoff: bool = False) -> list[RunReport]:
        if code:
            peers: list[Peer | str] = [self.peers.get(code)]  # an unknown peer is an error of the command
        else:
            peers = [r.code for r in self.peers.rows()]  # one peer's missing token fails that peer only
        return [self.run_one(direction, p, respect_backoff=respect_backoff) for p in peers]

    def run_one(self, direction: str, peer: Peer | str, *, respect_backoff: bool = False) -> RunReport:
        """One pull or push with one peer (a code is looked up here, so a peer that cannot even be
        read is reported and backed off like one that does not answer)."""
        code = peer if isinstance(peer, str) else peer.code
        now = self.clock.now()
        with self.db.read() as conn:
            health = store.get_health(conn, code, direction)
        if respect_backoff and health.next_try_us > to_micros(now):
            return RunReport(code, direction, skipped=True, error=health.last_error,
                             next_try_us=health.next_try_us)
        try:
            report = self.runners[direction](self.peers.get(peer) if isinstance(peer, str) else peer)
        except TearlineError as exc:
            report = RunReport(code, direction, error=exc.message)
        except Exception as exc:  # one peer's failure never stops the others
            log.exception("sync %s with %s failed", direction, code)
            report = RunReport(code, direction, error=f"unexpected error: {type(exc).__name__}")
        report.next_try_us = self._record_health(health, report, now).next_try_us or None
        return report

    def _record_health(self, h: store.Health, report: RunReport, now: datetime) -> store.Health:
        now_us = to_micros(now)
        if report.error is None:
            new = store.Health(h.peer, h.direction, now_us, None, 0, 0)
        else:
            wait = min(PEER_BACKOFF * (2 ** min(h.failures, 10)), PEER_BACKOFF_MAX)
            new = store.Health(h.peer, h.direction, h.last_ok_us, report.error, h.failures + 1,
                               to_micros(now + wait))
        with self.db.write() as conn:
            store.set_health(conn, new)
        return new

    def rejections(self, code: str | None = None, *, state: str | None = None,
                   limit: int = 1000) -> list[store.Rejection]:
        """Objects refused in either direction, newest first (of one peer, in one state)."""
        if state is not None and state not in store.REJECTION_STATES:
            raise InvalidInput(f"unknown state `{state}` (one of {', '.join(store.REJECTION_STATES)})")
        if limit < 1:
            raise InvalidInput("the limit must be at least 1")
        with self.db.read() as conn:
            return store.rejections(conn, code.upper() if code else None, limit, state=state)

    def health(self) -> list[store.Health]:
        out: list[store.Health] = []
        with self.db.read() as conn:
            for p in store.list_peers(conn):
                out.extend(store.get_health(conn, p.code, d) for d in ("pull", "push"))
        return out


def sync_forever(
    federation: Federation, every_s: float, stop: Any, on_report: Callable[[RunReport], None], *,
    join_s: float = 25.0,
) -> None:
    """Pull then push with every peer, every ``every_s`` seconds until ``stop`` (a threading.Event)
    is set; a peer that fails is backed off (``sync_health``) and reported, never in the way.

    Each peer's round runs in a thread of its own, so a peer that hangs (accepts the connection
    and never answers: up to three reads of 30 s) holds up only itself; while its round is still
    running it is left out of the next ones. Nothing ends the loop but ``stop``: an error outside
    one peer's run (the database busy, a report that cannot be shown) is logged and reported, and
    the next peer or round goes on. On ``stop`` the rounds under way get ``join_s`` seconds to end.
    """
    running: dict[str, threading.Thread] = {}
    while not stop.is_set():
        try:
            codes = [r.code for r in federation.peers.rows()]
        except Exception:
            log.exception("background sync cannot list the peers")
            codes = []
        for code in codes:
            busy = running.get(code)
            if busy is not None and busy.is_alive():
                continue
            t = threading.Thread(target=_peer_round, args=(federation, code, stop, on_report),
                                 name=f"tearline-sync-{code}", daemon=True)
            running[code] = t
            t.start()
        stop.wait(every_s)
    deadline = time.monotonic() + join_s
    for t in running.values():
        t.join(max(0.0, deadline - time.monotonic()))


def _peer_round(federation: Federation, code: str, stop: Any, on_report: Callable[[RunReport], None]) -> None:
    for direction in ("pull", "push"):
        if stop.is_set():
            return
        try:
            report = federation.run_one(direction, code, respect_backoff=True)
            if not report.skipped:
                on_report(report)
        except Exception:
            log.exception("background sync %s with %s failed", direction, code)
