"""TAXII 2.1 error message resources (§3.6.1) for every error on every TAXII route.

One shape for all of them: ``title``, ``description``, ``error_code``, ``http_status`` (a string, as
the specification types it) and optional ``details``. Messages follow the project style (lower case,
no final period, user input in backticks). An unexpected exception answers 500 with a fixed text:
exception text is logged, never sent.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tearline.canonical import dumps
from tearline.errors import TITLES, TaxiiError, TearlineError, not_found
from tearline.web.taxii.media import TAXII_21

log = logging.getLogger(__name__)

__all__ = ["TITLES", "TaxiiError", "error_body", "error_response", "not_found", "on_http_error", "on_tearline_error"]

def error_body(status: int, description: str, code: str, details: dict[str, Any] | None = None) -> bytes:
    body: dict[str, Any] = {
        "title": TITLES.get(status, "error"),
        "description": description,
        "error_code": code,
        "http_status": str(status),
    }
    if details:
        body["details"] = details
    return dumps(body)


def error_response(exc: TaxiiError) -> Response:
    return Response(
        error_body(exc.status, exc.description, exc.code, exc.details),
        status_code=exc.status,
        media_type=TAXII_21,
        headers=exc.headers,
    )




async def on_taxii_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TaxiiError)
    return error_response(exc)


async def on_tearline_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TearlineError)
    if exc.http_status >= 500:
        log.error("request failed: %s", exc.code, exc_info=exc)
        return error_response(TaxiiError(exc.http_status, "the server could not answer", code=exc.code))
    if exc.http_status == 404:
        return error_response(not_found())
    return error_response(TaxiiError(exc.http_status, exc.message, code=exc.code))


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(not_found())
    description = {405: "this method is not allowed here"}.get(exc.status_code, TITLES.get(exc.status_code, "error"))
    return error_response(TaxiiError(exc.status_code, description, headers=dict(exc.headers or {})))


async def on_crash(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path)
    return error_response(TaxiiError(500, "the server could not answer", code="internal"))
