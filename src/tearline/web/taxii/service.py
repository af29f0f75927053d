"""The TAXII edge's state and its write use cases: collections as a partner sees them, Add Objects,
Delete An Object, Get Status.

Collections (``kind`` in the ``collections`` table): ``shared`` and ``custom`` are readable by every
partner and writable by none; an ``inbox`` exists only for its ``owner`` (read and write); for any
other partner it and everything in it answers exactly like a collection id that does not exist.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from tearline.canonical import dumps, format_timestamp, from_micros, to_micros
from tearline.crypto.keys import load_cursor_key
from tearline.services.decisions import Stamp
from tearline.services.intake import IngestSummary, version_of
from tearline.services.prepare import owned_by_all
from tearline.stix.markings import TLP_MARKING_IDS, marking_refs
from tearline.stix.reader import RawObject, Unit
from tearline.store import nodes, pages
from tearline.store import partners as partners_store
from tearline.store import status as status_store
from tearline.store import sync as sync_store
from tearline.store.nodes import CollectionRow
from tearline.web.taxii.auth import Authenticator, FailureLimiter
from tearline.web.taxii.cursor import CursorCodec
from tearline.web.taxii.errors import TaxiiError, not_found
from tearline.web.taxii.filters import VersionFilter
from tearline.web.taxii.index import IndexCache
from tearline.web.taxii.responses import Cached, DeliveryCounter, Key, ResponseCache
from tearline.web.taxii.serving import PartnerReader, ReleaseCache

MAX_OBJECTS = 10_000

if TYPE_CHECKING:  # the web layer never imports the composition root at run time
    from tearline.bootstrap import Node


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


class Taxii:
    """What every TAXII request shares: the node, the caches, the cursor codec, auth."""

    def __init__(self, node: Node, config: Config) -> None:
        self.node = node
        self.config = config
        self.cache = ReleaseCache(config.cache_bytes)
        self.indexes = IndexCache()
        self.responses = ResponseCache(config.response_cache_bytes)
        self.deliveries = DeliveryCounter(node.db, interval_s=config.deliveries_flush_s)
        self._seen_epoch = -1  # the newest change epoch a request has read
        self.making: dict[Key, asyncio.Future[None]] = {}  # answers being made (one at a time per key)
        self._gate_epoch = -1  # the epoch at which the gate's term set was last refreshed
        self.cursors = CursorCodec(load_cursor_key(node.keys_dir))
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
        with self.node.db.read() as conn:
            return partners_store.token_hashes(conn)

    def stamp(self, partner: str) -> Stamp:
        """The partner's change stamp now (one read of the change epoch)."""
        stamp = self.node.decisions.stamp(partner)
        assert stamp is not None
        self._seen_epoch = max(self._seen_epoch, stamp.epoch)
        return stamp

    def lookup(self, authorization: str | None, client: str, method: str, url: str, accept: str,
               *, quick: bool = False) -> tuple[str, Stamp, Key, Cached | None] | None:
        """Authenticate, take the partner's stamp, and find a kept answer that still holds.

        ``quick``: only if that takes no more than the epoch read on SQLite (a few µs, so the event
        loop may run it): the token table is fresh and nothing changed since the partner's last
        stamp; else None, and the caller asks again from a worker thread."""
        if quick and not (self.node.db.is_sqlite and self.auth.fresh):
            return None
        partner = self.auth.partner(authorization, client)
        stamp = self.node.decisions.stamp(partner, cached_only=quick)
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
            self.node, self.cache, partner, at or from_micros(stamp.at_us), self.indexes,
            refresh_gate=refresh, expires_us=stamp.expires_us,
        )
        if refresh:
            self._gate_epoch = stamp.epoch
        return reader

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
                with self.node.db.read() as conn:
                    self._collections = nodes.list_collections(conn)
                self._collections_at = time.monotonic()
                self._collections_epoch = epoch
            return self._collections

    @staticmethod
    def readable(row: CollectionRow, partner: str) -> bool:
        return row.kind in ("shared", "custom") or (row.kind == "inbox" and row.owner == partner)

    @staticmethod
    def writable(row: CollectionRow, partner: str) -> bool:
        return row.kind == "inbox" and row.owner == partner

    def collections(self, partner: str) -> list[CollectionRow]:
        return [c for c in self._all_collections() if self.readable(c, partner)]

    def collection(self, partner: str, key: str) -> CollectionRow:
        """By id or alias; another partner's inbox is exactly as absent as an unknown id."""
        for c in self.collections(partner):
            if key in (c.id, c.alias):
                return c
        raise not_found()

    def collection_resource(self, row: CollectionRow, partner: str) -> dict[str, Any]:
        from tearline.web.taxii.media import STIX_21

        return {
            "id": row.id,
            "title": row.title,
            "description": row.description,
            "alias": row.alias,
            "can_read": True,
            "can_write": self.writable(row, partner),
            "media_types": [STIX_21],
        }

    # -- Add Objects (§5.5) -----------------------------------------------------------------
    def add_objects(self, partner: str, row: CollectionRow, body: bytes) -> bytes:
        if not self.writable(row, partner):
            raise TaxiiError(403, "this collection cannot be written to", code="read_only")
        objs = _envelope_objects(body)
        now = self.node.clock.now()
        default = replace(self.node.info.default_label, originator=partner)
        definitions, unknown = self._definitions(row, objs)
        refused = {index: "not a JSON object" for index, obj in enumerate(objs) if not isinstance(obj, dict)}
        for index, ref in unknown.items():
            refused[index] = (f"unknown marking definition `{ref}`: post the definition first, "
                              "or in the same envelope")
        unit = Unit(source="envelope", kind="envelope", definitions=definitions,
                    objects=[RawObject(index, obj) for index, obj in enumerate(objs) if index not in refused])
        good, problems = self.node.intake.prepare_positions(unit, default=default)  # one unit: labels cached
        refused.update(problems)
        failures = [{**_ref(objs[index]), "message": refused[index]} for index in sorted(refused)]
        prepared = owned_by_all([p for _, p in good], partner)
        if prepared:
            self.node.intake.store(
                prepared, collection_id=row.id, added=now, summary=IngestSummary(), posted_by=partner
            )
        successes = [{"id": p.obj["id"], "version": version_of(p.obj)} for p in prepared]
        status = {
            "id": str(uuid.uuid4()),
            "status": "complete",
            "request_timestamp": format_timestamp(now),
            "total_count": len(objs),
            "success_count": len(successes),
            "successes": successes,
            "failure_count": len(failures),
            "failures": failures,
            "pending_count": 0,
            "pendings": [],
        }
        data = dumps(status)
        with self.node.db.write() as conn:
            status_store.add(conn, status["id"], partner, to_micros(now), data)
        return data

    def _definitions(self, row: CollectionRow, objs: list[Any]) -> tuple[dict[str, dict[str, Any]], dict[int, str]]:
        """The marking definitions the envelope's objects refer to, found in order in the envelope,
        among the definitions stored in the target collection, and among the node's own (TLP 1.0
        and 2.0, the ACS definitions of its labels); and, by position, the first reference of each
        object that none of them holds."""
        definitions = {
            o["id"]: o for o in objs
            if isinstance(o, dict) and o.get("type") == "marking-definition" and isinstance(o.get("id"), str)
        }
        refs = {i: marking_refs(o) for i, o in enumerate(objs) if isinstance(o, dict)}
        wanted = set().union(*refs.values()) - definitions.keys() - TLP_MARKING_IDS.keys()
        if wanted:
            with self.node.db.read() as conn:
                stored = sync_store.marking_definitions(conn, row.id)
            for ref in sorted(wanted):
                if ref in stored:
                    definitions[ref] = orjson.loads(stored[ref])
                elif (own := self.node.release.markings.own(ref) if self.node.release.markings else None):
                    definitions[ref] = own
        known = definitions.keys() | TLP_MARKING_IDS.keys()
        unknown = {i: min(r - known) for i, r in refs.items() if not r <= known}
        return definitions, unknown

    def status(self, partner: str, status_id: str) -> bytes:
        with self.node.db.read() as conn:
            data = status_store.get(conn, status_id, partner)
        if data is None:
            raise not_found()
        return data

    # -- Delete An Object (§5.7) ------------------------------------------------------------
    def delete_object(self, partner: str, row: CollectionRow, stix_id: str, vf: VersionFilter,
                      spec_versions: tuple[str, ...]) -> int:
        if not self.writable(row, partner):
            raise TaxiiError(403, "objects can only be deleted from your own inbox", code="read_only")
        reader = self.reader(partner)
        with self.node.db.read() as conn:
            versions = reader.of_id(conn, row.id, stix_id, spec_versions)
        chosen = reader.choose(versions, vf)
        if not chosen:
            raise not_found()
        with self.node.db.write() as conn:
            return pages.delete_versions(conn, row.id, sorted(chosen))


def _ref(obj: Any) -> dict[str, str]:
    if not isinstance(obj, dict):
        return {"id": "", "version": ""}
    return {"id": str(obj.get("id", ""))[:200], "version": str(version_of(obj))[:40]}


def _envelope_objects(body: bytes) -> list[Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise TaxiiError(400, "the body is not valid JSON", code="bad_json") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("objects"), list):
        raise TaxiiError(400, "the body is not a TAXII envelope (an object with `objects`)", code="bad_envelope")
    objs: list[Any] = doc["objects"]
    if len(objs) > MAX_OBJECTS:
        raise TaxiiError(413, f"an envelope may hold at most {MAX_OBJECTS} objects", code="too_many_objects")
    return objs
