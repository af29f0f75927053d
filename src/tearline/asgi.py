"""The served application, composed: the TAXII edge, the partners' ledger endpoints and the UI,
over one node. ``from_env`` is the import-string factory ``tearline serve`` gives uvicorn
(``factory=True``), so each worker process opens its own node from the environment.

This module sits above the web layer: the web package never imports the composition root.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount

from tearline.bootstrap import Node, open_node
from tearline.services.taxii import Config
from tearline.settings import load_settings
from tearline.web.app import create_app
from tearline.web.heap import TRIM_EVERY_S
from tearline.web.ledger import ledger_routes
from tearline.web.psi import psi_routes
from tearline.web.ui import create_ui


def build_app(node: Node, *, close_node: bool = False, trim_every_s: float | None = None) -> Starlette:
    holder: dict[str, Starlette] = {}

    def authenticate(request: Request) -> str:
        taxii = holder["app"].state.taxii
        client = request.client.host if request.client else "unknown"
        return str(taxii.auth.partner(request.headers.get("authorization"), client))

    routes: list[BaseRoute] = [
        *ledger_routes(node.ledger, authenticate),
        *psi_routes(node.psi_server(), authenticate),
        Mount("/ui", app=create_ui(node.ui_deps())),
    ]
    app = taxii_app(node, close_node=close_node, extra_routes=routes, trim_every_s=trim_every_s)
    holder["app"] = app
    return app


def taxii_app(node: Node, *, config: Config | None = None, close_node: bool = False,
              extra_routes: Sequence[BaseRoute] = (), trim_every_s: float | None = None) -> Starlette:
    """The TAXII app alone over one node (the node's TAXII service, built here, is all it gets)."""
    return create_app(node.taxii_service(config), on_close=node.close if close_node else None,
                      extra_routes=extra_routes, trim_every_s=trim_every_s)


def from_env() -> Starlette:
    """uvicorn factory: settings from the environment (``TEARLINE_DATA``, ``TEARLINE_DB_URL``, ...).
    A served worker owns its process, so it also trims its heap (:mod:`tearline.web.heap`)."""
    return build_app(open_node(load_settings()), close_node=True, trim_every_s=TRIM_EVERY_S)
