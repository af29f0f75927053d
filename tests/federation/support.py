"""What the federation tests share: a proxy that cuts pages, and what a node holds or would release."""

from __future__ import annotations

import http.server
import socket
import threading
from dataclasses import dataclass, field

import httpx

from tearline.demo.network import Member
from tearline.services.sync_push import Pusher
from tearline.store import nodes
from tearline.store import sync as sync_store


def inbox_versions(receiver: Member, sender: str) -> set[tuple[str, str]]:
    with receiver.node.db.read() as conn:
        inbox = nodes.inbox_of(conn, sender)
        assert inbox is not None
        return sync_store.versions_in(conn, inbox.id)


def releasable(sender: Member, receiver: str) -> set[tuple[str, str]]:
    n = sender.node
    return {(o.stix_id, o.version) for o in Pusher(n.db, n.clock, n.decisions, n.release).releasable(receiver)}


@dataclass
class Proxy:
    """An HTTP proxy on 127.0.0.1 that, while ``cutting``, drops every Get Objects page from the
    ``cut_from``-th on half-way through its body."""

    target: str
    cut_from: int = 3
    cutting: bool = True
    pages: int = 0
    url: str = ""
    server: http.server.ThreadingHTTPServer | None = field(default=None, repr=False)

    def start(self) -> str:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "connection")}
                resp = httpx.request(self.command, proxy.target + self.path, headers=headers, content=body, timeout=60)
                data = resp.content
                cut = False
                if self.command == "GET" and self.path.split("?", 1)[0].endswith("/objects/"):
                    proxy.pages += 1
                    cut = proxy.cutting and proxy.pages >= proxy.cut_from
                self.send_response(resp.status_code)
                for k, v in resp.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if cut:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(data)

            do_GET = _forward
            do_POST = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
