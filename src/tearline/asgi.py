"""The served application, composed: the TAXII edge, the partners' ledger endpoints and the UI,
over one node. ``from_env`` is the import-string factory ``tearline serve`` gives uvicorn
(``factory=True``), so each worker process opens its own node from the environment.

This module sits above the web layer: the web package never imports the composition root.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount

from tearline.bootstrap import Node, open_node
from tearline.settings import load_settings
from tearline.web.app import create_app
from tearline.web.heap import TRIM_EVERY_S
from tearline.web.ledger import ledger_routes
from tearline.web.ui import create_ui
from tearline.web.ui.deps import ui_deps


def build_app(node: Node, *, close_node: bool = False, trim_every_s: float | None = None) -> Starlette:
    holder: dict[str, Starlette] = {}

    def authenticate(request: Request) -> str:
        taxii = holder["app"].state.taxii
        client = request.client.host if request.client else "unknown"
        return str(taxii.auth.partner(request.headers.get("authorization"), client))

    routes: list[BaseRoute] = [
        *ledger_routes(node.ledger, authenticate),
        Mount("/ui", app=create_ui(ui_deps(node))),
    ]
    app = create_app(node, close_node=close_node, extra_routes=routes, trim_every_s=trim_every_s)
    holder["app"] = app
    return app


def from_env() -> Starlette:
    """uvicorn factory: settings from the environment (``TEARLINE_DATA``, ``TEARLINE_DB_URL``, ...).
    A served worker owns its process, so it also trims its heap (:mod:`tearline.web.heap`)."""
    return build_app(open_node(load_settings()), close_node=True, trim_every_s=TRIM_EVERY_S)
