"""The web application factory: ``create_app(taxii) -> Starlette``. No module-level app.

Routes: ``/healthz`` (liveness: the process answers, nothing else is touched), ``/readyz``
(the TAXII service's readiness: database reachable, schema at the migration head), TAXII 2.1 discovery at
``/taxii2/`` and one API root (``/api/``), plus the routes the caller
passes (the ledger endpoints and the UI, wired by :mod:`tearline.asgi`, which also holds the
``from_env`` factory that ``tearline serve --workers N`` gives uvicorn). The app is given the TAXII
service the composition root built, never the node, a database handle or the vault.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from tearline.services.taxii import TaxiiService
from tearline.web.heap import HeapTrimmer
from tearline.web.metrics import RequestMetrics, metrics
from tearline.web.request_id import RequestId
from tearline.web.taxii import errors as taxii_errors
from tearline.web.taxii.routes import routes as taxii_routes

TAXII_PREFIXES = ("/taxii2", "/api")


def create_app(
    service: TaxiiService,
    *,
    threads: int = 6,
    on_close: Callable[[], None] | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    trim_every_s: float | None = None,
) -> Starlette:
    """Build the app for one open node. ``threads`` bounds the threads that touch the database: a
    request may hold two pooled connections at once (its read and the pipeline's), so it stays below
    half the default SQLAlchemy pool (5 + 10 overflow). ``on_close`` runs when the app stops (a
    served worker closes its node). ``trim_every_s``: while the app runs, give
    the process's free heap memory back to the system this often (:mod:`tearline.web.heap`; for a
    serving process, which owns its allocator, not for an app inside another program)."""
    cfg = service.config
    trimmer = HeapTrimmer(trim_every_s) if trim_every_s is not None else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        if trimmer is not None:
            trimmer.start()
        try:
            yield
        finally:
            if trimmer is not None:
                trimmer.stop()
            service.close()  # write the repeat-delivery counts still held in memory
            if on_close is not None:
                on_close()

    async def on_http_error(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith(TAXII_PREFIXES):
            return await taxii_errors.on_http_error(request, exc)
        assert isinstance(exc, HTTPException)
        return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)

    async def healthz(request: Request) -> Response:
        # liveness only: the process answers; it touches nothing (no database, no vault)
        return PlainTextResponse("ok\n", headers={"Cache-Control": "no-store"})

    async def readyz(request: Request) -> Response:
        checks = await anyio.to_thread.run_sync(service.readiness)
        ready = all(v == "ok" for v in checks.values())
        body = "".join(f"{k}: {v}\n" for k, v in checks.items())
        return PlainTextResponse(body, status_code=200 if ready else 503, headers={"Cache-Control": "no-store"})

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *taxii_routes(cfg.api_root), *extra_routes,
        ],
        exception_handlers={HTTPException: on_http_error},
        middleware=[Middleware(RequestId), Middleware(RequestMetrics)],
        lifespan=lifespan,
    )
    app.state.taxii = service
    app.state.heap = trimmer
    return app
