"""Ledger endpoints for partners (docs/ledger.md, "HTTP endpoints"): the latest signed tree head,
inclusion proofs for the caller's own receipts, consistency proofs, and leaf hashes (leaf bytes
only for the caller's own entries). Authenticated like TAXII (Basic or Bearer partner token).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tearline.errors import InvalidInput, NotFound, TearlineError
from tearline.services.ledger import Ledger
from tearline.web.taxii.errors import TITLES, TaxiiError

MAX_LEAVES = 1000
JSON = "application/json"

Authenticate = Callable[[Request], str]  # returns the partner code or raises TaxiiError


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value, option=orjson.OPT_SORT_KEYS), status_code=status, media_type=JSON)


def _error(status: int, title: str, description: str = "") -> Response:
    return _json({"title": title, "description": description, "http_status": str(status)}, status)


def _int(request: Request, name: str, default: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        if default is None:
            raise InvalidInput(f"query parameter `{name}` is required")
        return default
    if not raw.isdigit():
        raise InvalidInput(f"query parameter `{name}` must be a whole number, not `{raw[:40]}`")
    return int(raw)


def ledger_routes(ledger: Ledger, authenticate: Authenticate, prefix: str = "/ledger/v1") -> list[Route]:
    def guarded(fn: Callable[[Request, str], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                partner = await run_in_threadpool(authenticate, request)
                return _json(await run_in_threadpool(fn, request, partner))
            except TaxiiError as exc:
                resp = _error(exc.status, TITLES.get(exc.status, "error"), exc.description)
                resp.headers.update(exc.headers)
                return resp
            except NotFound as exc:
                return _error(404, "not found", exc.message)
            except TearlineError as exc:
                status = exc.http_status if exc.http_status < 500 else 500
                return _error(status, exc.code, exc.message if status < 500 else "")

        return endpoint

    def head(request: Request, partner: str) -> Any:
        h = ledger.head()
        if h is None:
            raise NotFound("the ledger is empty")
        return h.to_json()

    def inclusion(request: Request, partner: str) -> Any:
        seq = _int(request, "seq")
        size = _int(request, "size", -1)
        proof = ledger.prove(seq, None if size < 0 else size)
        own = [e for e in ledger.partner_leaves(partner, seq, seq + 1) if "leaf" in e]
        if not own:  # not this partner's receipt: the same answer as a seq that does not exist
            raise NotFound(f"no receipt `{seq}`")
        return {"seq": proof.seq, "size": proof.size, "path": [h.hex() for h in proof.path],
                "leaf_hash": proof.leaf_hash.hex(), "head": proof.head.to_json()}

    def consistency(request: Request, partner: str) -> Any:
        first, second, path = ledger.consistency(_int(request, "first"), _int(request, "second", -1)
                                                 if request.query_params.get("second") else None)
        return {"first": first, "second": second, "path": [h.hex() for h in path]}

    def leaves(request: Request, partner: str) -> Any:
        start = _int(request, "start", 0)
        end = _int(request, "end", start + MAX_LEAVES)
        if end < start:
            raise InvalidInput("`end` must not be before `start`")
        end = min(end, start + MAX_LEAVES, ledger.size())
        return {"start": start, "end": end, "leaves": ledger.partner_leaves(partner, start, end)}

    return [
        Route(f"{prefix}/head", guarded(head)),
        Route(f"{prefix}/proof/inclusion", guarded(inclusion)),
        Route(f"{prefix}/proof/consistency", guarded(consistency)),
        Route(f"{prefix}/leaves", guarded(leaves)),
    ]
