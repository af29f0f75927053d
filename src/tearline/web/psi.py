"""PSI endpoint for partners (docs/psi.md): ``POST /psi/v1/query``. Authenticated like TAXII (Basic
or Bearer partner token); parses the JSON body, asks the PSI service, renders its answer.

Body: ``{"types": "ipv4-addr,domain-name", "cardinality_only": false, "request": "<base64>"}``;
answer: ``{"setup": "<base64>", "response": "<base64>", "server_size": N}``. A refusal by the
budget is 429 with the reason; bad input 400.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tearline.errors import TearlineError
from tearline.services.psi import PsiError
from tearline.services.psi_serve import MAX_REQUEST_BYTES, PsiServer
from tearline.web.taxii.errors import TITLES, TaxiiError

Authenticate = Callable[[Request], str]
JSON = "application/json"


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value, option=orjson.OPT_SORT_KEYS), status_code=status, media_type=JSON)


def _error(status: int, title: str, description: str = "") -> Response:
    return _json({"title": title, "description": description, "http_status": str(status)}, status)


def _parse(raw: bytes) -> tuple[str, bool, bytes]:
    try:
        body = orjson.loads(raw)
        types, card, req = body["types"], body.get("cardinality_only", False), body["request"]
        if not isinstance(types, str) or not isinstance(card, bool) or not isinstance(req, str):
            raise TypeError
        return types, card, base64.b64decode(req, validate=True)
    except (orjson.JSONDecodeError, KeyError, TypeError, binascii.Error) as exc:
        raise PsiError("the body must be JSON with `types` (text), `cardinality_only` (boolean) and "
                       "`request` (base64)") from exc


def psi_routes(server: PsiServer, authenticate: Authenticate, prefix: str = "/psi/v1") -> list[Route]:
    async def query(request: Request) -> Response:
        try:
            partner = await run_in_threadpool(authenticate, request)
            raw = await request.body()
            if len(raw) > MAX_REQUEST_BYTES * 2:
                return _error(413, "too large", f"the body is over {MAX_REQUEST_BYTES * 2} bytes")
            types, card, req = _parse(raw)
            ans = await run_in_threadpool(server.answer, partner, types, card, req)
            return _json({"setup": base64.b64encode(ans.setup).decode(),
                          "response": base64.b64encode(ans.response).decode(), "server_size": ans.server_size})
        except TaxiiError as exc:
            resp = _error(exc.status, TITLES.get(exc.status, "error"), exc.description)
            resp.headers.update(exc.headers)
            return resp
        except PsiError as exc:
            return _error(400, "bad request", str(exc))
        except TearlineError as exc:
            status = exc.http_status if exc.http_status < 500 else 500
            return _error(status, exc.code, exc.message if status < 500 else "")

    return [Route(f"{prefix}/query", query, methods=["POST"])]
