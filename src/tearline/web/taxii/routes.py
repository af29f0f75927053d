"""TAXII 2.1 endpoints: thin handlers that parse a request, ask the TAXII service, render bytes.

Every handler authenticates first (401/429), then checks ``Accept`` (406) and, for a body,
``Content-Type`` (415) and size (413); every error is a TAXII error message resource. Work that
touches the database runs in the thread pool.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tearline.canonical import dumps, format_timestamp, from_micros, to_micros
from tearline.errors import TearlineError
from tearline.services.decisions import Stamp
from tearline.store.pages import LightRow
from tearline.web.taxii import filters as filters_mod
from tearline.web.taxii.cursor import BadCursor
from tearline.web.taxii.errors import TaxiiError, error_response, not_found, on_tearline_error
from tearline.web.taxii.media import STIX_21, TAXII_21, acceptable, sendable
from tearline.web.taxii.responses import Cached, Key
from tearline.web.taxii.service import Taxii
from tearline.web.taxii.serving import Item, window

Handler = Callable[[Request, str], Awaitable[Response]]


def _taxii(request: Request) -> Taxii:
    service: Taxii = request.app.state.taxii
    return service


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, check ``Accept``, run the handler, and shape every error."""
    return _wrap(handler, keep=False)


def kept(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """:func:`endpoint`, and a 200 answer to a GET is kept whole (:mod:`tearline.web.taxii.responses`)
    and served again while the partner's change stamp holds. The stamp is taken before the handler
    runs, and the handler reads the node as of the stamp's time (``request.state.stamp``)."""
    return _wrap(handler, keep=True)


def _wrap(handler: Handler, *, keep: bool) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        try:
            service = _taxii(request)
            client = request.client.host if request.client else "unknown"
            authorization = request.headers.get("authorization")
            if not (keep and request.method == "GET"):
                partner = await run_in_threadpool(service.auth.partner, authorization, client)
                _check_accept(request)
                return await handler(request, partner)
            args = (authorization, client, "GET", str(request.url), request.headers.get("accept", ""))
            partner, stamp, key, hit = await _lookup(service, args)
            _check_accept(request)
            making = service.making.get(key)
            if hit is None and making is not None:  # the same answer is being made: wait, then look again
                await asyncio.shield(making)
                partner, stamp, key, hit = await _lookup(service, args)  # a fresh stamp
            if hit is not None:
                if hit.release_ids:
                    service.deliveries.add(hit.release_ids, stamp.at_us)
                return Replay(hit)
            done = service.making[key] = asyncio.get_running_loop().create_future()
            try:
                request.state.stamp = stamp
                response = await handler(request, partner)
                if response.status_code == 200:
                    ids = tuple(getattr(request.state, "release_ids", ()))
                    body = bytes(response.body)
                    service.responses.put(key, Cached(stamp, 200, tuple(response.raw_headers), body, ids))
            finally:
                if service.making.get(key) is done:
                    del service.making[key]
                done.set_result(None)
            return response
        except TaxiiError as exc:
            return error_response(exc)
        except TearlineError as exc:
            return await on_tearline_error(request, exc)
        except Exception:
            import logging

            logging.getLogger(__name__).exception("unexpected error on %s", request.url.path)
            return error_response(TaxiiError(500, "the server could not answer", code="internal"))

    run.__doc__ = handler.__doc__
    run.__name__ = handler.__name__
    return run


async def _lookup(service: Taxii, args: tuple[str | None, str, str, str, str]) -> tuple[str, Stamp, Key, Cached | None]:
    found = service.lookup(*args, quick=True)  # on the loop: the epoch read alone (SQLite)
    if found is None:
        found = await run_in_threadpool(service.lookup, *args)
    assert found is not None
    return found


def _check_accept(request: Request) -> None:
    if not acceptable(request.headers.get("accept")):
        raise TaxiiError(406, "the `Accept` header must allow `application/taxii+json;version=2.1`")


class Replay(Response):
    """A kept answer sent again exactly as it was (status, headers, body)."""

    def __init__(self, cached: Cached) -> None:
        self.status_code = cached.status
        self.body = cached.body
        self.raw_headers = list(cached.headers)
        self.background = None


def _stamp_of(request: Request) -> Stamp | None:
    stamp: Stamp | None = getattr(request.state, "stamp", None)
    return stamp


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(value), status_code=status, media_type=TAXII_21, headers=headers)


def _stamp(us: int) -> str:
    return format_timestamp(from_micros(us))


def _added_headers(rows: Sequence[LightRow]) -> dict[str, str]:
    if not rows:
        return {}
    return {
        "X-TAXII-Date-Added-First": _stamp(min(r.date_added_us for r in rows)),
        "X-TAXII-Date-Added-Last": _stamp(max(r.date_added_us for r in rows)),
    }


def _paged(service: Taxii, partner: str, scope: str, flt: filters_mod.Filters) -> Any:
    if flt.next is None:
        return None
    try:
        return service.cursors.decode(flt.next, partner, scope, flt.digest())
    except BadCursor:
        raise TaxiiError(400, "the `next` value is not a cursor of this request", code="bad_cursor") from None


def _next(service: Taxii, partner: str, scope: str, flt: filters_mod.Filters, rows: Sequence[LightRow],
          more: bool) -> dict[str, Any]:
    """``more`` and the cursor past the last row of the page read. The rows are those read, not
    only those sent: when the gate withholds the last of them at delivery (a term added since the
    page was chosen), the next page still starts after it, and a page whose every row was withheld
    still carries a ``next`` for a client to follow. The position is sealed in the cursor."""
    head: dict[str, Any] = {"more": more}
    if more and rows:
        head["next"] = service.cursors.encode(partner, scope, flt.digest(), rows[-1].position)
    return head


def _query(request: Request, service: Taxii, *, versions: bool = True) -> filters_mod.Filters:
    return filters_mod.parse(request.query_params, page_limit=service.config.page_limit, versions=versions)


# -- §4.1, §4.2, §4.3 ------------------------------------------------------------------------------
@kept
async def discovery(request: Request, partner: str) -> Response:
    """Server Discovery (TAXII 2.1 §4.1): the node and its one API root."""
    service = _taxii(request)
    base = str(request.base_url).rstrip("/")
    root = base + service.config.api_root
    info = service.node.info
    return _json({
        "title": f"tearline {info.name}",
        "description": f"TAXII 2.1 server of node {info.code}; each partner sees what its profile releases",
        "default": root,
        "api_roots": [root],
    })


@kept
async def api_root(request: Request, partner: str) -> Response:
    """Get API Root Information (TAXII 2.1 §4.2)."""
    service = _taxii(request)
    return _json({
        "title": f"tearline {service.node.info.code}",
        "description": "collections of this node",
        "versions": [TAXII_21],
        "max_content_length": service.config.max_body_bytes,
    })


@endpoint
async def status(request: Request, partner: str) -> Response:
    """Get Status (TAXII 2.1 §4.3): the status of one of this partner's Add Objects requests."""
    service = _taxii(request)
    status_id = request.path_params["status_id"]
    try:
        uuid.UUID(status_id)
    except ValueError:
        raise not_found() from None
    data = await run_in_threadpool(service.status, partner, status_id)
    return Response(data, media_type=TAXII_21)


# -- §5.1, §5.2 ---------------------------------------------------------------------------------------
@kept
async def collections(request: Request, partner: str) -> Response:
    """Get Collections (TAXII 2.1 §5.1): the collections this partner can read."""
    service = _taxii(request)
    rows = await run_in_threadpool(service.collections, partner)
    return _json({"collections": [service.collection_resource(r, partner) for r in rows]})


@kept
async def collection(request: Request, partner: str) -> Response:
    """Get A Collection (TAXII 2.1 §5.2)."""
    service = _taxii(request)
    row = await run_in_threadpool(service.collection, partner, request.path_params["collection_id"])
    return _json(service.collection_resource(row, partner))


# -- §5.3, §5.4 ---------------------------------------------------------------------------------------
def _collection_page(service: Taxii, partner: str, key: str, flt: filters_mod.Filters, kind: str,
                     stamp: Stamp | None = None) -> tuple[dict[str, Any], list[Any], dict[str, str]]:
    row = service.collection(partner, key)
    scope = f"{kind}:{row.id}"
    after = _paged(service, partner, scope, flt)
    reader = service.reader(partner, stamp=stamp)
    with service.node.db.read() as conn:
        rows, more = reader.page(conn, row.id, flt.match, flt.versions, after=after, limit=flt.limit)
        head = _next(service, partner, scope, flt, rows, more)  # past every row read, sent or not
        if kind == "objects":
            items: list[Any] = reader.deliver(conn, rows)
            rows = [i.row for i in items]
        else:
            items = rows
    return head, items, _added_headers(rows)


def _envelope(head: dict[str, Any], bodies: Sequence[bytes]) -> bytes:
    """An envelope around pre-rendered object bytes (keys in sorted order, like ``dumps``)."""
    start = orjson.dumps(head)[:-1]
    return start + b',"objects":[' + b",".join(bodies) + b"]}"


LEDGER_HEADER = "X-Tearline-Ledger-Entries"


def _delivered(request: Request, service: Taxii, head: dict[str, Any], items: Sequence[Item],
               headers: dict[str, str]) -> Response:
    """An objects envelope of released bytes, naming the ledger entry that recorded each object
    (in ``objects`` order); repeats of earlier deliveries are counted."""
    repeats = [i.release_id for i in items if i.repeat]
    if repeats:
        stamp = _stamp_of(request)
        service.deliveries.add(repeats, stamp.at_us if stamp else to_micros(service.node.clock.now()))
    request.state.release_ids = [i.release_id for i in items]
    headers = {**headers, LEDGER_HEADER: ",".join(str(i.ledger_seq) for i in items)}
    return Response(_envelope(head, [i.body for i in items]), media_type=TAXII_21, headers=headers)


@kept
async def manifest(request: Request, partner: str) -> Response:
    """Get Object Manifests (TAXII 2.1 §5.3): one record per chosen version the partner may see."""
    service = _taxii(request)
    flt = _query(request, service)
    head, rows, headers = await run_in_threadpool(
        _collection_page, service, partner, request.path_params["collection_id"], flt, "manifest", _stamp_of(request)
    )
    head["objects"] = [
        {"date_added": _stamp(r.date_added_us), "id": r.stix_id, "media_type": STIX_21, "version": r.version}
        for r in rows
    ]
    return _json(head, headers=headers)


async def objects(request: Request) -> Response:
    """Get Objects (TAXII 2.1 §5.4) and Add Objects (TAXII 2.1 §5.5)."""
    if request.method == "POST":
        return await add_objects(request)
    return await get_objects(request)


@kept
async def get_objects(request: Request, partner: str) -> Response:
    """Get Objects (TAXII 2.1 §5.4): an envelope of released bytes, a keyset page at a time."""
    service = _taxii(request)
    flt = _query(request, service)
    head, items, headers = await run_in_threadpool(
        _collection_page, service, partner, request.path_params["collection_id"], flt, "objects", _stamp_of(request)
    )
    return _delivered(request, service, head, items, headers)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise TaxiiError(400, "bad `Content-Length`") from None
        if too_big:
            raise TaxiiError(413, f"the body is larger than {limit} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TaxiiError(413, f"the body is larger than {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


@endpoint
async def add_objects(request: Request, partner: str) -> Response:
    """Add Objects (TAXII 2.1 §5.5): validated like ingest, labelled as the partner's own, stored in
    its inbox; answers 202 with a status resource (§4.3.1) listing every success and failure."""
    service = _taxii(request)
    if not sendable(request.headers.get("content-type")):
        raise TaxiiError(415, "the body must be `application/taxii+json;version=2.1`")
    row = await run_in_threadpool(service.collection, partner, request.path_params["collection_id"])
    if not service.writable(row, partner):
        raise TaxiiError(403, "this collection cannot be written to", code="read_only")
    body = await _read_body(request, service.config.max_body_bytes)
    data = await run_in_threadpool(service.add_objects, partner, row, body)
    return Response(data, status_code=202, media_type=TAXII_21)


# -- §5.6, §5.7, §5.8 ---------------------------------------------------------------------------------
def _object_versions(service: Taxii, partner: str, key: str, stix_id: str, flt: filters_mod.Filters,
                     kind: str, stamp: Stamp | None = None) -> tuple[dict[str, Any], list[Any], dict[str, str]]:
    if flt.match.ids or flt.match.types:
        raise TaxiiError(400, "`match[id]` and `match[type]` do not apply to one object", code="bad_filter")
    row = service.collection(partner, key)
    scope = f"{kind}:{row.id}:{stix_id}"
    after = _paged(service, partner, scope, flt)
    reader = service.reader(partner, stamp=stamp)
    with service.node.db.read() as conn:
        visible = reader.of_id(conn, row.id, stix_id, flt.match.spec_versions)
        if not visible:
            raise not_found()  # withheld and absent answer alike
        chosen = reader.choose(visible, flt.versions)
        rows, more = window([r for r in visible if r.seq in chosen], flt.match, after, flt.limit)
        head = _next(service, partner, scope, flt, rows, more)  # past every row read, sent or not
        items: list[Any] = rows
        if kind == "object":
            items = reader.deliver(conn, rows)
            rows = [i.row for i in items]
    return head, items, _added_headers(rows)


def _object_id(request: Request) -> str:
    stix_id: str = request.path_params["object_id"]
    if len(stix_id) > 160:
        raise not_found()
    return stix_id


async def object_by_id(request: Request) -> Response:
    """Get An Object (TAXII 2.1 §5.6) and Delete An Object (TAXII 2.1 §5.7)."""
    if request.method == "DELETE":
        return await delete_object(request)
    return await get_object(request)


@kept
async def get_object(request: Request, partner: str) -> Response:
    """Get An Object (TAXII 2.1 §5.6): the chosen versions of one id (default the last one it may see)."""
    service = _taxii(request)
    flt = _query(request, service)
    oid = _object_id(request)
    try:
        head, items, headers = await run_in_threadpool(
            _object_versions, service, partner, request.path_params["collection_id"], oid, flt, "object",
            _stamp_of(request),
        )
    except TaxiiError as exc:
        if exc.status != 404 or not oid.startswith("marking-definition--"):
            raise
        # the node's own marking definitions, as far as this partner may know the label they spell
        body = await run_in_threadpool(_definition, service, partner, request.path_params["collection_id"], oid)
        if body is None:
            raise
        return Response(_envelope({"more": False}, [body]), media_type=TAXII_21)
    return _delivered(request, service, head, items, headers)


def _definition(service: Taxii, partner: str, collection: str, definition_id: str) -> bytes | None:
    service.collection(partner, collection)  # an unreadable collection stays absent
    return service.node.release.definition(partner, definition_id)


@endpoint
async def delete_object(request: Request, partner: str) -> Response:
    """Delete An Object (TAXII 2.1 §5.7): only from the partner's own inbox (403 elsewhere)."""
    service = _taxii(request)
    flt = _query(request, service)
    if flt.match.ids or flt.match.types or flt.match.added_after_us is not None or flt.next:
        raise TaxiiError(400, "only `match[version]` and `match[spec_version]` apply to a delete", code="bad_filter")
    row = await run_in_threadpool(service.collection, partner, request.path_params["collection_id"])
    await run_in_threadpool(
        service.delete_object, partner, row, _object_id(request), flt.versions, flt.match.spec_versions
    )
    return Response(b"", status_code=200)


@kept
async def versions(request: Request, partner: str) -> Response:
    """Get Object Versions (TAXII 2.1 §5.8): the versions of one id this partner may see."""
    service = _taxii(request)
    flt = _query(request, service, versions=False)
    head, rows, headers = await run_in_threadpool(
        _object_versions, service, partner, request.path_params["collection_id"], _object_id(request), flt,
        "versions", _stamp_of(request),
    )
    head["versions"] = [r.version for r in rows]
    return _json(head, headers=headers)


def routes(root_path: str = "/api/") -> list[BaseRoute]:
    """The TAXII routes: discovery at ``/taxii2/`` and one API root (default ``/api/``)."""
    root = "/" + root_path.strip("/")
    coll = root + "/collections/{collection_id}"
    return [
        Route("/taxii2/", discovery, methods=["GET"]),
        Route(root + "/", api_root, methods=["GET"]),
        Route(root + "/status/{status_id}/", status, methods=["GET"]),
        Route(root + "/collections/", collections, methods=["GET"]),
        Route(coll + "/", collection, methods=["GET"]),
        Route(coll + "/manifest/", manifest, methods=["GET"]),
        Route(coll + "/objects/", objects, methods=["GET", "POST"]),
        Route(coll + "/objects/{object_id}/", object_by_id, methods=["GET", "DELETE"]),
        Route(coll + "/objects/{object_id}/versions/", versions, methods=["GET"]),
    ]
