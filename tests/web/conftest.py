"""Real TAXII servers for the web tests: uvicorn in a thread on a free 127.0.0.1 port, stopped at the end."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from tests.web.support import Live, free_port, rotate_tokens

from tearline.bootstrap import open_node
from tearline.settings import Settings


@pytest.fixture(scope="session")
def serve_app():  # type: ignore[no-untyped-def]
    """Start a real server for an app; yields a function `start(app) -> url`; stops them all at the end."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: Starlette) -> str:
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    import io

    from rich.console import Console

    from tearline.demo.run import run_demo

    settings = Settings(data=Path(tmp_path_factory.mktemp("demo")) / "node")
    run_demo(settings, Console(file=io.StringIO()), size=1200)
    return settings


@pytest.fixture(scope="session")
def demo_live(demo_data: Settings, serve_app) -> Iterator[Live]:  # type: ignore[no-untyped-def]
    from tearline.asgi import taxii_app

    node = open_node(demo_data)
    tokens = rotate_tokens(node)
    app = taxii_app(node)
    url = serve_app(app)
    yield Live(url, app, node, tokens)
    node.close()
