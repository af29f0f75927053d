"""UI fixtures: one richer demo node per session, a real server for the browser tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from tests.ui.support import UiNode, build, make_app


@pytest.fixture(scope="session")
def ui_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiNode]:
    built = build(tmp_path_factory.mktemp("ui") / "node")
    yield built
    built.node.close()


@pytest.fixture(scope="session")
def ui_url(ui_node: UiNode) -> Iterator[str]:
    """The UI served by uvicorn on a free 127.0.0.1 port in a thread, stopped at the end."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(make_app(ui_node.node), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the UI test server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/ui"
    server.should_exit = True
    thread.join(timeout=10)
