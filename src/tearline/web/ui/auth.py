"""Operator sessions, roles and CSRF for the UI.

A session is a signed cookie (Starlette's ``SessionMiddleware``) holding the operator's name and a
CSRF token; the role is read from the database on every request, so ``tearline user set-role`` and
``user remove`` take effect at once. Every POST form carries the token, compared in constant time.
Partners' TAXII tokens are not looked at here: only an operator name and password open the UI.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from tearline.errors import TearlineError, UiError
from tearline.services.users import Role, User
from tearline.web.ui.deps import UiDeps

SESSION_USER = "user"
SESSION_CSRF = "csrf"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}




@dataclass
class Ctx:
    """What a page handler gets: the services, the operator and (on POST) the form."""

    request: Request
    deps: UiDeps
    templates: Jinja2Templates
    user: User
    form: FormData | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        return render(self.request, self.templates, template, status, user=self.user, **context)

    def field(self, name: str) -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else ""


def href(request: Request, path: str) -> str:
    """A URL inside the UI, wherever it is mounted (``/ui`` by default)."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/") + path


def csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


def check_csrf(request: Request, form: FormData) -> None:
    sent = form.get("csrf")
    kept = request.session.get(SESSION_CSRF)
    if not isinstance(sent, str) or not isinstance(kept, str) or not hmac.compare_digest(sent, kept):
        raise UiError(
            403, "form refused", "the form has expired or did not come from this site; reload the page and try again"
        )


def secure(response: Response) -> Response:
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    return response


def render(
    request: Request, templates: Jinja2Templates, template: str, status: int = 200, **context: Any
) -> Response:
    context.setdefault("user", None)
    context.update(
        csrf=csrf_token(request),
        base=href(request, ""),
        node_code=request.app.state.deps.node_code,
        node_name=request.app.state.deps.node_name,
    )
    return secure(templates.TemplateResponse(request, template, context, status_code=status))


def error_page(request: Request, templates: Jinja2Templates, exc: UiError, user: User | None) -> Response:
    return render(request, templates, "error.html", exc.status, user=user, title=exc.title, message=exc.message)


def current_user(request: Request, deps: UiDeps) -> User | None:
    name = request.session.get(SESSION_USER)
    if not isinstance(name, str):
        return None
    return deps.users.get(name)


Handler = Callable[[Ctx], Response]
Endpoint = Callable[[Request], Awaitable[Response]]


def page(role: Role = Role.VIEWER, *, api: bool = False) -> Callable[[Handler], Endpoint]:
    """Wrap a synchronous page handler: login, role, CSRF on POST, errors as pages; the handler
    runs in a worker thread (it calls blocking services)."""

    def wrap(fn: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            deps: UiDeps = request.app.state.deps
            templates: Jinja2Templates = request.app.state.templates
            user = await run_in_threadpool(current_user, request, deps)
            if user is None:
                if api:
                    return secure(JSONResponse({"error": "log in first"}, status_code=401))
                nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return secure(RedirectResponse(href(request, "/login") + "?" + _q({"next": nxt}), 303))
            form = None
            try:
                if request.method == "POST":
                    form = await request.form()
                    check_csrf(request, form)
                if not user.can(role):
                    raise UiError(
                        403,
                        "not allowed",
                        f"your role `{user.role.text}` cannot do this; it needs `{role.text}` or above",
                    )
                return await run_in_threadpool(fn, Ctx(request, deps, templates, user, form))
            except UiError as exc:
                if api:
                    return secure(JSONResponse({"error": exc.message}, status_code=exc.status))
                return error_page(request, templates, exc, user)
            except TearlineError as exc:
                if api:
                    return secure(JSONResponse({"error": exc.message}, status_code=exc.http_status))
                title = "not found" if exc.http_status == 404 else "refused"
                return error_page(request, templates, UiError(exc.http_status, title, exc.message), user)
            finally:
                if form is not None:
                    await form.close()  # uploaded files' spooled temporary files

        endpoint.__name__ = fn.__name__
        return endpoint

    return wrap


def _q(params: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


def safe_next(request: Request, target: str | None) -> str:
    """Where to go after login: only a path inside the UI, never another site."""
    base = href(request, "/")
    if target and target.startswith(base) and not target.startswith("//") and "\\" not in target:
        return target
    return base


async def login_page(request: Request) -> Response:
    deps: UiDeps = request.app.state.deps
    templates: Jinja2Templates = request.app.state.templates
    if request.method == "GET":
        if await run_in_threadpool(current_user, request, deps) is not None:
            return secure(RedirectResponse(safe_next(request, request.query_params.get("next")), 303))
        return render(request, templates, "login.html", next=request.query_params.get("next", ""), failed=False)
    form = await request.form()
    try:
        check_csrf(request, form)
    except UiError as exc:
        return error_page(request, templates, exc, None)
    name, password, nxt = (str(form.get(k) or "") for k in ("name", "password", "next"))
    user = await run_in_threadpool(deps.users.authenticate, name, password) if name and password else None
    if user is None:
        return render(request, templates, "login.html", 401, next=nxt, failed=True, name=name)
    request.session.clear()  # a fresh session (and CSRF token) on every login
    request.session[SESSION_USER] = user.name
    csrf_token(request)
    return secure(RedirectResponse(safe_next(request, nxt), 303))


async def logout(request: Request) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    form = await request.form()
    try:
        check_csrf(request, form)
    except UiError as exc:
        return error_page(request, templates, exc, None)
    request.session.clear()
    return secure(RedirectResponse(href(request, "/login"), 303))
