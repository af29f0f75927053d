"""Real nodes on real HTTP for the federation tests: uvicorn threads over `tearline.asgi.build_app`,
a cutting proxy and tiny bad servers, all on 127.0.0.1 and all stopped at the end."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn

from tearline.asgi import build_app
from tearline.demo.network import Member, build_member


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "federation_demo: the five-node network demo (real servers, < 2 minutes)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve() -> Iterator[Callable[[Member], str]]:
    """Serve a member's node with uvicorn in a thread; returns its discovery URL."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(m: Member) -> str:
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(build_app(m.node), host="127.0.0.1", port=port, log_level="error"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the test server did not start"
            time.sleep(0.02)
        servers.append((server, thread))
        m.url = f"http://127.0.0.1:{port}/taxii2/"
        return m.url

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Member, Member]]:
    """GBR and USA nodes, each with its own scenario, partners of each other (and of CAN, AUS, NZL)."""
    now = datetime.now(UTC)
    a = build_member(tmp_path, "GBR", seed=3, size=500, now=now)
    b = build_member(tmp_path, "USA", seed=4, size=500, now=now)
    yield a, b
    a.node.close()
    b.node.close()


@pytest.fixture
def bad_server() -> Iterator[Callable[[int, bytes], str]]:
    """A tiny server answering every request with one status and body; returns its URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(status: int, body: bytes) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/taxii+json;version=2.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/taxii2/"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()
