"""The web application factory: ``create_app(node) -> Starlette``. No module-level app.

Routes: TAXII 2.1 discovery at ``/taxii2/`` and one API root (``/api/``). The UI (``/ui``) and the
ledger endpoints (``/ledger/v1/...``) are mounted in :func:`_later_mounts` when they exist.

For ``tearline serve --workers N`` every worker process builds its own app with :func:`from_env`
(an import-string factory for uvicorn's ``factory=True``): it reads settings from the environment
(``TEARLINE_DATA``, ``TEARLINE_DB_URL``, ...) and opens its own node.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute

from tearline.bootstrap import Node, open_node
from tearline.settings import load_settings
from tearline.web.taxii import errors as taxii_errors
from tearline.web.taxii.routes import routes as taxii_routes
from tearline.web.taxii.service import Config, Taxii

TAXII_PREFIXES = ("/taxii2", "/api")


def _later_mounts() -> list[BaseRoute]:
    """Where others mount the UI and the ledger API, e.g.
    ``Mount("/ui", app=create_ui(node))`` and ``Mount("/ledger/v1", routes=ledger_routes(node))``."""
    return []


def create_app(
    node: Node,
    *,
    config: Config | None = None,
    threads: int = 16,
    close_node: bool = False,
) -> Starlette:
    """Build the app for one open node. ``threads`` bounds the worker threads that touch the database."""
    cfg = config or Config(page_limit=node.settings.page_limit, max_body_bytes=node.settings.max_body_bytes)
    service = Taxii(node, cfg)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        try:
            yield
        finally:
            if close_node:
                node.close()

    async def on_http_error(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith(TAXII_PREFIXES):
            return await taxii_errors.on_http_error(request, exc)
        assert isinstance(exc, HTTPException)
        return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)

    app = Starlette(
        routes=[*taxii_routes(cfg.api_root), *_later_mounts()],
        exception_handlers={HTTPException: on_http_error},
        lifespan=lifespan,
    )
    app.state.taxii = service
    app.state.node = node
    return app


def from_env() -> Starlette:
    """uvicorn factory (``tearline.web.app:from_env``): settings from the environment, own node."""
    settings = load_settings()
    return create_app(open_node(settings), close_node=True)
