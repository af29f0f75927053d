"""HTTP request metrics for Prometheus (``prometheus-client``): a counter and a latency histogram
labelled by method, route *template* (``/api/collections/{collection_id}/objects/``, never the raw
path, so label cardinality stays bounded; unmatched paths count as ``<unmatched>``) and status.
Pure ASGI, holding nothing of the node, the database or the vault. ``/metrics`` answers only
loopback callers (the counters describe partners' traffic); see docs/operations.md.
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("tearline_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram("tearline_http_request_seconds", "HTTP request latency until the response starts",
                    ["method", "route"])
LOOPBACK = {"127.0.0.1", "::1"}


def _template(scope: Scope) -> str:
    app = scope.get("app")
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", ()):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "<unmatched>"))
    return "<unmatched>"


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        route = _template(scope)
        status = ["500"]

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = str(message["status"])
                LATENCY.labels(scope["method"], route).observe(time.perf_counter() - start)
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            REQUESTS.labels(scope["method"], route, status[0]).inc()


async def metrics(request: Request) -> Response:
    if request.client is None or request.client.host not in LOOPBACK:
        return PlainTextResponse("metrics are served to loopback callers only\n", status_code=403)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
