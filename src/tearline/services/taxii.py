"""The TAXII 2.1 read side and what every TAXII request shares: authentication, change stamps,
kept answers, the release cache and indexes, stateless cursors, collections as a partner sees them,
pages of objects, manifests and versions, marking definitions by id, and Delete An Object. The
web edge (:mod:`tearline.web.taxii.routes`) parses a request, calls one method here, and renders.

Collections (``kind`` in the ``collections`` table): ``shared`` and ``custom`` are readable by every
partner and writable by none; an ``inbox`` exists only for its ``owner`` (read and write); for any
other partner it and everything in it answers exactly like a collection id that does not exist.

Every object byte a page carries is an outcome of the release pipeline
(:meth:`PartnerReader.deliver`), and every definition byte too (:meth:`ReleasePipeline.definition`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tearline.canonical import format_timestamp, from_micros, to_micros
from tearline.clock import Clock
from tearline.errors import TaxiiError, not_found
from tearline.services.answers import Cached, DeliveryCounter, Key, ResponseCache
from tearline.services.cursors import BadCursor, CursorCodec
from tearline.services.decisions import Decisions, Stamp
from tearline.services.gate import Gate
from tearline.services.inbox import Inbox, writable
from tearline.services.index import IndexCache
from tearline.services.node import NodeInfo
from tearline.services.partner_auth import Authenticator, FailureLimiter
from tearline.services.release import ReleasePipeline
from tearline.services.serving import Filters, Item, PartnerReader, ReleaseCache, VersionFilter, window
from tearline.store import nodes, pages
from tearline.store import partners as partners_store
from tearline.store.engine import Database
from tearline.store.nodes import CollectionRow
from tearline.store.pages import LightRow

STIX_21 = "application/stix+json;version=2.1"


@dataclass
class Page:
    """One answer's parts: the envelope's head (``more``, ``next``), what it lists (released
    :class:`Item` s for objects, rows for manifests and versions) and the date-added headers."""

    head: dict[str, Any]
    items: list[Any]
    headers: dict[str, str]


@dataclass(frozen=True)
class Config:
    """Explicit values the TAXII edge is built from (see :func:`tearline.web.app.create_app`)."""

    api_root: str = "/api/"
    page_limit: int = 1000
    max_body_bytes: int = 10 * 1024 * 1024
    cache_bytes: int = 96 * 1024 * 1024
    response_cache_bytes: int = 64 * 1024 * 1024
    deliveries_flush_s: float = 2.0
    auth_burst: int = 20
    auth_refill_s: float = 1.0
    refresh_s: float = 2.0


class TaxiiService:
    """What every TAXII request shares, built from explicit collaborators by the composition root."""

    def __init__(self, config: Config, *, db: Database, clock: Clock, info: NodeInfo, decisions: Decisions,
                 gate: Gate, release: ReleasePipeline, inbox: Inbox, cursor_key: bytes) -> None:
        self.config = config
        self.db = db
        self.clock = clock
        self.info = info
        self.decisions = decisions
        self.gate = gate
        self.release = release
        self.inbox = inbox
        self.cache = ReleaseCache(config.cache_bytes)
        self.indexes = IndexCache()
        self.responses = ResponseCache(config.response_cache_bytes)
        self.deliveries = DeliveryCounter(db, interval_s=config.deliveries_flush_s)
        self._seen_epoch = -1  # the newest change epoch a request has read
        self.making: dict[Key, asyncio.Future[None]] = {}  # answers being made (one at a time per key)
        self._gate_epoch = -1  # the epoch at which the gate's term set was last refreshed
        self.cursors = CursorCodec(cursor_key)
        self.auth = Authenticator(
            self._token_hashes,
            limiter=FailureLimiter(config.auth_burst, config.auth_refill_s),
            refresh_s=config.refresh_s,
        )
        self._collections: list[CollectionRow] = []
        self._collections_at = -1e9
        self._collections_epoch = -1
        self._lock = threading.Lock()

    def _token_hashes(self) -> dict[str, str]:
        with self.db.read() as conn:
            return partners_store.token_hashes(conn)

    def stamp(self, partner: str) -> Stamp:
        """The partner's change stamp now (one read of the change epoch)."""
        stamp = self.decisions.stamp(partner)
        assert stamp is not None
        self._seen_epoch = max(self._seen_epoch, stamp.epoch)
        return stamp

    def lookup(self, authorization: str | None, client: str, method: str, url: str, accept: str,
               *, quick: bool = False) -> tuple[str, Stamp, Key, Cached | None] | None:
        """Authenticate, take the partner's stamp, and find a kept answer that still holds.

        ``quick``: only if that takes no more than the epoch read on SQLite (a few µs, so the event
        loop may run it): the token table is fresh and nothing changed since the partner's last
        stamp; else None, and the caller asks again from a worker thread."""
        if quick and not (self.db.is_sqlite and self.auth.fresh):
            return None
        partner = self.auth.partner(authorization, client)
        stamp = self.decisions.stamp(partner, cached_only=quick)
        if stamp is None:
            return None
        self._seen_epoch = max(self._seen_epoch, stamp.epoch)
        key = (partner, method, url, accept)
        return partner, stamp, key, self.responses.get(key, stamp.epoch, stamp.at_us)

    def reader(self, partner: str, at: datetime | None = None, stamp: Stamp | None = None) -> PartnerReader:
        """A reading of the node as ``partner`` sees it, at the time of ``stamp`` (taken now if none)."""
        if stamp is None:
            stamp = self.stamp(partner)
        refresh = stamp.epoch != self._gate_epoch  # vault changes move the epoch
        reader = PartnerReader(
            self.decisions, self.gate, self.release, self.cache, partner, at or from_micros(stamp.at_us), self.indexes,
            refresh_gate=refresh, expires_us=stamp.expires_us,
        )
        if refresh:
            self._gate_epoch = stamp.epoch
        return reader

    def readiness(self) -> dict[str, str]:
        """`/readyz`: each check's outcome ("ok" or a short reason); ready when all are "ok". The
        database must answer and its schema be at the code's migration head."""
        try:
            current, head = self.db.schema_state()
        except Exception as exc:  # any failure here means not ready, with a reason safe to show
            return {"database": f"unreachable: {type(exc).__name__}", "migrations": "unknown"}
        return {"database": "ok", "migrations": "ok" if current == head else f"at {current}, code at {head}"}

    def close(self) -> None:
        """Write the repeat deliveries still counted in memory (call on shutdown)."""
        self.deliveries.close()

    # -- collections ------------------------------------------------------------------------
    def _all_collections(self) -> list[CollectionRow]:
        """Re-read when the change epoch moved (a collection added) or every ``refresh_s``."""
        with self._lock:
            stale = time.monotonic() - self._collections_at > self.config.refresh_s
            if stale or self._collections_epoch != self._seen_epoch:
                epoch = self._seen_epoch
                with self.db.read() as conn:
                    self._collections = nodes.list_collections(conn)
                self._collections_at = time.monotonic()
                self._collections_epoch = epoch
            return self._collections

    @staticmethod
    def readable(row: CollectionRow, partner: str) -> bool:
        return row.kind in ("shared", "custom") or (row.kind == "inbox" and row.owner == partner)

    @staticmethod
    def writable(row: CollectionRow, partner: str) -> bool:
        return writable(row, partner)

    def collections(self, partner: str) -> list[CollectionRow]:
        return [c for c in self._all_collections() if self.readable(c, partner)]

    def collection(self, partner: str, key: str) -> CollectionRow:
        """By id or alias; another partner's inbox is exactly as absent as an unknown id."""
        for c in self.collections(partner):
            if key in (c.id, c.alias):
                return c
        raise not_found()

    def collection_resource(self, row: CollectionRow, partner: str) -> dict[str, Any]:
        """Get A Collection's resource (TAXII 2.1 §5.2) as this partner sees it."""
        return {
            "id": row.id,
            "title": row.title,
            "description": row.description,
            "alias": row.alias,
            "can_read": True,
            "can_write": self.writable(row, partner),
            "media_types": [STIX_21],
        }

    # -- inbox (§5.5, §4.3) ------------------------------------------------------------------
    def add_objects(self, partner: str, key: str, body: bytes) -> bytes:
        """Add Objects (TAXII 2.1 §5.5) into the collection ``key``: the status resource's bytes."""
        return self.inbox.add_objects(partner, self.collection(partner, key), body)

    def status(self, partner: str, status_id: str) -> bytes:
        """Get Status (TAXII 2.1 §4.3)."""
        return self.inbox.status(partner, status_id)

    # -- Delete An Object (§5.7) ------------------------------------------------------------
    def delete_object(self, partner: str, key: str, stix_id: str, vf: VersionFilter,
                      spec_versions: tuple[str, ...]) -> int:
        row = self.collection(partner, key)
        if not self.writable(row, partner):
            raise TaxiiError(403, "objects can only be deleted from your own inbox", code="read_only")
        reader = self.reader(partner)
        with self.db.read() as conn:
            versions = reader.of_id(conn, row.id, stix_id, spec_versions)
        chosen = reader.choose(versions, vf)
        if not chosen:
            raise not_found()
        with self.db.write() as conn:
            return pages.delete_versions(conn, row.id, sorted(chosen))



    # -- pages (§5.3, §5.4, §5.6, §5.8) ----------------------------------------------------------
    def collection_page(self, partner: str, key: str, flt: Filters, kind: str, stamp: Stamp | None = None) -> Page:
        """A page of the collection ``key``: released objects (``kind`` ``objects``) or manifest rows."""
        row = self.collection(partner, key)
        scope = f"{kind}:{row.id}"
        after = self._paged(partner, scope, flt)
        reader = self.reader(partner, stamp=stamp)
        with self.db.read() as conn:
            rows, more = reader.page(conn, row.id, flt.match, flt.versions, after=after, limit=flt.limit)
            head = self._next(partner, scope, flt, rows, more)  # past every row read, sent or not
            if kind == "objects":
                items: list[Any] = reader.deliver(conn, rows)
                rows = [i.row for i in items]
            else:
                items = rows
        return Page(head, items, _added_headers(rows))

    def object_versions(self, partner: str, key: str, stix_id: str, flt: Filters, kind: str,
                        stamp: Stamp | None = None) -> Page:
        """The chosen versions of one id: released objects (``kind`` ``object``) or version rows."""
        if flt.match.ids or flt.match.types:
            raise TaxiiError(400, "`match[id]` and `match[type]` do not apply to one object", code="bad_filter")
        row = self.collection(partner, key)
        scope = f"{kind}:{row.id}:{stix_id}"
        after = self._paged(partner, scope, flt)
        reader = self.reader(partner, stamp=stamp)
        with self.db.read() as conn:
            visible = reader.of_id(conn, row.id, stix_id, flt.match.spec_versions)
            if not visible:
                raise not_found()  # withheld and absent answer alike
            chosen = reader.choose(visible, flt.versions)
            rows, more = window([r for r in visible if r.seq in chosen], flt.match, after, flt.limit)
            head = self._next(partner, scope, flt, rows, more)  # past every row read, sent or not
            items: list[Any] = rows
            if kind == "object":
                items = reader.deliver(conn, rows)
                rows = [i.row for i in items]
        return Page(head, items, _added_headers(rows))

    def definition(self, partner: str, key: str, definition_id: str) -> bytes | None:
        """One of the node's own marking definitions by id, as far as this partner may know the
        label it spells (through the release pipeline: decided, gated, recorded); None: absent."""
        self.collection(partner, key)  # an unreadable collection stays absent
        return self.release.definition(partner, definition_id)

    def count_repeats(self, items: Sequence[Item], stamp: Stamp | None) -> None:
        """Count the repeat deliveries among ``items`` (bytes delivered and recorded before)."""
        repeats = [i.release_id for i in items if i.repeat]
        if repeats:
            self.deliveries.add(repeats, stamp.at_us if stamp else to_micros(self.clock.now()))

    def _paged(self, partner: str, scope: str, flt: Filters) -> Any:
        if flt.next is None:
            return None
        try:
            return self.cursors.decode(flt.next, partner, scope, flt.digest())
        except BadCursor:
            raise TaxiiError(400, "the `next` value is not a cursor of this request", code="bad_cursor") from None

    def _next(self, partner: str, scope: str, flt: Filters, rows: Sequence[LightRow], more: bool) -> dict[str, Any]:
        """``more`` and the cursor past the last row of the page read. The rows are those read, not
        only those sent: when the gate withholds the last of them at delivery (a term added since the
        page was chosen), the next page still starts after it, and a page whose every row was withheld
        still carries a ``next`` for a client to follow. The position is sealed in the cursor."""
        head: dict[str, Any] = {"more": more}
        if more and rows:
            head["next"] = self.cursors.encode(partner, scope, flt.digest(), rows[-1].position)
        return head


def _stamp(us: int) -> str:
    return format_timestamp(from_micros(us))


def _added_headers(rows: Sequence[LightRow]) -> dict[str, str]:
    if not rows:
        return {}
    return {
        "X-TAXII-Date-Added-First": _stamp(min(r.date_added_us for r in rows)),
        "X-TAXII-Date-Added-Last": _stamp(max(r.date_added_us for r in rows)),
    }
