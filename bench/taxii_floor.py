"""The HTTP floor for bench/taxii.py: a bare Starlette app that answers the same URLs with the same
pages prebuilt in memory, behind the same auth check (SHA-256 of the bearer token compared with
`hmac.compare_digest` against every partner's hash). What tearline adds on top of this is the cost
of serving per-partner views.

Usage (started by bench/taxii.py): uvicorn --factory bench.taxii_floor:from_env
with TEARLINE_FLOOR_PAGES=<file written by bench/taxii.py>.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TAXII = "application/taxii+json;version=2.1"


def create_floor(pages: dict[str, tuple[bytes, dict[str, str]]], hashes: list[str]) -> Starlette:
    async def answer(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        presented = hashlib.sha256(auth.removeprefix("Bearer ").encode()).hexdigest()
        ok = False
        for stored in hashes:
            ok |= hmac.compare_digest(presented, stored)
        if not ok:
            return Response(b'{"http_status":"401"}', status_code=401, media_type=TAXII)
        key = request.url.path + ("?" + request.url.query if request.url.query else "")
        page = pages.get(key)
        if page is None:
            return Response(b'{"http_status":"404"}', status_code=404, media_type=TAXII)
        return Response(page[0], media_type=TAXII, headers=page[1])

    return Starlette(routes=[Route("/{path:path}", answer)])


def from_env() -> Starlette:
    with open(os.environ["TEARLINE_FLOOR_PAGES"], "rb") as f:
        pages, hashes = pickle.load(f)
    return create_floor(pages, hashes)
