"""The web UI for sharing officers, mounted under ``/ui``: ``create_ui(deps) -> Starlette``.

Built from explicit collaborators (:class:`UiDeps`), so nothing here imports the composition root
or the vault service. See docs/ui.md for the pages, roles and sessions.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from tearline.web.ui import explore, pages
from tearline.web.ui.auth import login_page, logout
from tearline.web.ui.deps import UiDeps

__all__ = ["UiDeps", "create_ui"]

HERE = Path(__file__).parent
COOKIE = "tearline_ui"


def _templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ts"] = lambda d: d.strftime("%Y-%m-%d %H:%M UTC") if d is not None else ""
    env.filters["day"] = lambda d: d.strftime("%Y-%m-%d") if d is not None else ""
    return Jinja2Templates(env=env)


def create_ui(deps: UiDeps) -> Starlette:
    """The UI as an ASGI app; mount it with ``Mount("/ui", app=create_ui(deps))``."""
    routes = [
        Route("/", pages.overview, name="overview"),
        Route("/login", login_page, methods=["GET", "POST"], name="login"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route("/partners/{code}", pages.partner, name="partner"),
        Route("/partners/{code}/apply", pages.apply_change, methods=["POST"], name="apply"),
        Route("/partners/{code}/restore", pages.restore, methods=["POST"], name="restore"),
        Route("/items", explore.lookup, name="lookup"),
        Route("/items/{stix_id:path}", explore.item, name="item"),
        Route("/ledger", explore.ledger, name="ledger"),
        Route("/ledger/api/head", explore.api_head),
        Route("/ledger/api/proof/inclusion", explore.api_inclusion),
        Route("/ledger/api/proof/consistency", explore.api_consistency),
        Route("/ledger/api/leaves", explore.api_leaves),
        Route("/vault", explore.vault, name="vault"),
        Route("/trace", explore.trace, methods=["GET", "POST"], name="trace"),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(
            SessionMiddleware,
            secret_key=deps.session_secret,
            session_cookie=COOKIE,
            max_age=deps.session_hours * 3600,
            same_site="strict",
            https_only=deps.secure_cookies,
        )
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.deps = deps
    app.state.templates = _templates()
    return app
