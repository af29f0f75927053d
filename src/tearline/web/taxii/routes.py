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

from tearline.canonical import dumps, format_timestamp, from_micros
from tearline.errors import TearlineError
from tearline.services.answers import Cached, Key
from tearline.services.decisions import Stamp
from tearline.services.serving import Filters, Item
from tearline.services.taxii import Page, TaxiiService
from tearline.web.taxii import filters as filters_mod
from tearline.web.taxii.errors import TaxiiError, error_response, not_found, on_tearline_error
from tearline.web.taxii.media import STIX_21, TAXII_21, acceptable, sendable

Handler = Callable[[Request, str], Awaitable[Response]]


def _taxii(request: Request) -> TaxiiService:
    service: TaxiiService = request.app.state.taxii
    return service


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, check ``Accept``, run the handler, and shape every error."""
    return _wrap(handler, keep=False)


def kept(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """:func:`endpoint`, and a 200 answer to a GET is kept whole (:mod:`tearline.services.answers`)
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


async def _lookup(service: TaxiiService,
                  args: tuple[str | None, str, str, str, str]) -> tuple[str, Stamp, Key, Cached | None]:
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


def _stamp(us: int) -> str:
    return format_timestamp(from_micros(us))


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(value), status_code=status, media_type=TAXII_21, headers=headers)


def _query(request: Request, service: TaxiiService, *, versions: bool = True) -> Filters:
    return filters_mod.parse(request.query_params, page_limit=service.config.page_limit, versions=versions)


# -- §4.1, §4.2, §4.3 ------------------------------------------------------------------------------
@kept
async def discovery(request: Request, partner: str) -> Response:
    """Server Discovery (TAXII 2.1 §4.1): the node and its one API root."""
    service = _taxii(request)
    base = str(request.base_url).rstrip("/")
    root = base + service.config.api_root
    info = service.info
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
        "title": f"tearline {service.info.code}",
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
def _envelope(head: dict[str, Any], bodies: Sequence[bytes]) -> bytes:
    """An envelope around pre-rendered object bytes (keys in sorted order, like ``dumps``)."""
    start = orjson.dumps(head)[:-1]
    return start + b',"objects":[' + b",".join(bodies) + b"]}"


LEDGER_HEADER = "X-Tearline-Ledger-Entries"


def _delivered(request: Request, service: TaxiiService, page: Page) -> Response:
    """An objects envelope of released bytes, naming the ledger entry that recorded each object
    (in ``objects`` order); repeats of earlier deliveries are counted."""
    items: Sequence[Item] = page.items
    service.count_repeats(items, _stamp_of(request))
    request.state.release_ids = [i.release_id for i in items]
    headers = {**page.headers, LEDGER_HEADER: ",".join(str(i.ledger_seq) for i in items)}
    return Response(_envelope(page.head, [i.body for i in items]), media_type=TAXII_21, headers=headers)


@kept
async def manifest(request: Request, partner: str) -> Response:
    """Get Object Manifests (TAXII 2.1 §5.3): one record per chosen version the partner may see."""
    service = _taxii(request)
    flt = _query(request, service)
    page = await run_in_threadpool(
        service.collection_page, partner, request.path_params["collection_id"], flt, "manifest", _stamp_of(request)
    )
    page.head["objects"] = [
        {"date_added": _stamp(r.date_added_us), "id": r.stix_id, "media_type": STIX_21, "version": r.version}
        for r in page.items
    ]
    return _json(page.head, headers=page.headers)


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
    page = await run_in_threadpool(
        service.collection_page, partner, request.path_params["collection_id"], flt, "objects", _stamp_of(request)
    )
    return _delivered(request, service, page)


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
    key = request.path_params["collection_id"]
    row = await run_in_threadpool(service.collection, partner, key)
    if not service.writable(row, partner):  # before the body is read
        raise TaxiiError(403, "this collection cannot be written to", code="read_only")
    body = await _read_body(request, service.config.max_body_bytes)
    data = await run_in_threadpool(service.add_objects, partner, key, body)
    return Response(data, status_code=202, media_type=TAXII_21)


# -- §5.6, §5.7, §5.8 ---------------------------------------------------------------------------------
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
        page = await run_in_threadpool(
            service.object_versions, partner, request.path_params["collection_id"], oid, flt, "object",
            _stamp_of(request),
        )
    except TaxiiError as exc:
        if exc.status != 404 or not oid.startswith("marking-definition--"):
            raise
        # the node's own marking definitions, as far as this partner may know the label they spell
        body = await run_in_threadpool(service.definition, partner, request.path_params["collection_id"], oid)
        if body is None:
            raise
        return Response(_envelope({"more": False}, [body]), media_type=TAXII_21)
    return _delivered(request, service, page)


@endpoint
async def delete_object(request: Request, partner: str) -> Response:
    """Delete An Object (TAXII 2.1 §5.7): only from the partner's own inbox (403 elsewhere)."""
    service = _taxii(request)
    flt = _query(request, service)
    if flt.match.ids or flt.match.types or flt.match.added_after_us is not None or flt.next:
        raise TaxiiError(400, "only `match[version]` and `match[spec_version]` apply to a delete", code="bad_filter")
    await run_in_threadpool(
        service.delete_object, partner, request.path_params["collection_id"], _object_id(request), flt.versions,
        flt.match.spec_versions,
    )
    return Response(b"", status_code=200)


@kept
async def versions(request: Request, partner: str) -> Response:
    """Get Object Versions (TAXII 2.1 §5.8): the versions of one id this partner may see."""
    service = _taxii(request)
    flt = _query(request, service, versions=False)
    page = await run_in_threadpool(
        service.object_versions, partner, request.path_params["collection_id"], _object_id(request), flt,
        "versions", _stamp_of(request),
    )
    page.head["versions"] = [r.version for r in page.items]
    return _json(page.head, headers=page.headers)


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
