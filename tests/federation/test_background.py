"""`tearline serve --sync-every`: real server processes on 127.0.0.1 that pull and push on their own,
back off a failing peer without holding up the healthy one, and stop cleanly on SIGTERM."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest

from tearline.canonical import parse_timestamp
from tearline.demo.network import Member, add_reporting, build_member, free_ports
from tearline.demo.scenario import build_scenario
from tests.federation.support import inbox_versions, releasable
from tests.helpers import cli_proc

WAIT_S = 90  # bound on every wait below (the machine may be busy); each poll returns as soon as it holds


class CountingServer:
    """A peer node that answers every request with http 500, counting the requests."""

    def __init__(self) -> None:
        self.hits = 0
        lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with lock:
                    owner.hits += 1
                body = b'{"title": "boom"}'
                self.send_response(500)
                self.send_header("Content-Type", "application/taxii+json;version=2.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/taxii2/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class HangingServer:
    """A peer that accepts connections and never answers (until stopped: then it closes them)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.held: list[socket.socket] = []
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/taxii2/"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def stop(self) -> None:
        self.sock.close()
        for c in self.held:
            c.close()


def until(what: str, check: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.2)


class Served:
    """`tearline serve` processes, stderr kept in a file each; all stopped at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, m: Member, port: int, *extra: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.tmp / f"{m.code}.stderr"
        with log.open("wb") as f:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tearline", "--data", str(m.node.settings.data), "serve", "--port", str(port),
                 *extra],
                env={**os.environ, "TEARLINE_KEK_FILE": m.node.settings.kek_file, "COLUMNS": "200"},
                stdout=subprocess.DEVNULL, stderr=f,
            )
        self.procs.append(proc)
        m.url = f"http://127.0.0.1:{port}/taxii2/"

        def up() -> bool:
            assert proc.poll() is None, f"`serve` of {m.code} exited: {log.read_text()}"
            try:
                return httpx.get(m.url, timeout=1).status_code in (200, 401, 403)
            except httpx.HTTPError:
                return False

        until(f"{m.code} serving", up)
        return proc, log

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    s = Served(tmp_path)
    yield s
    s.stop()


def test_serve_sync_every_pulls_pushes_backs_off_failing_peers_and_stops_on_sigterm(
    tmp_path: Path, served: Served
) -> None:
    now = datetime.now(UTC)
    a = build_member(tmp_path, "GBR", seed=3, size=500, now=now)
    b = build_member(tmp_path, "USA", seed=4, size=500, now=now)
    bad = CountingServer()
    hanging = HangingServer()
    try:
        port_a, port_b, closed = free_ports(3)
        # B syncs with A, with CAN (a node answering 500 to everything), NZL (nothing listening) and
        # AUS (accepts and never answers: three reads of 30 s before it counts as failed). A has no
        # peers: what of A's reaches B came by B's pull.
        fed_b = b.node.federation()
        fed_b.peers.add("GBR", f"http://127.0.0.1:{port_a}/taxii2/", a.tokens["USA"])
        fed_b.peers.add("CAN", bad.url, "t1")
        fed_b.peers.add("NZL", f"http://127.0.0.1:{closed}/taxii2/", "t2")
        fed_b.peers.add("AUS", hanging.url, "t3")
        served.start(a, port_a)
        proc_b, log_b = served.start(b, port_b, "--sync-every", "1s")

        want_pull = releasable(a, "USA")
        want_push = releasable(b, "GBR")
        assert want_pull and want_push
        # AUS comes first in every round; it must not hold up A (it would for over 90 s)
        until("A's objects at B by pull while AUS hangs", lambda: inbox_versions(b, "GBR") == want_pull, 60)
        until("B's push at A while AUS hangs", lambda: inbox_versions(a, "USA") == want_push, 60)

        # the failing peers are reported on stderr and in `peer list`, and backed off
        until("the failures reported", lambda: "sync pull with CAN failed" in log_b.read_text()
              and "sync pull with NZL failed" in log_b.read_text())
        listed = cli_proc("--data", str(b.node.settings.data), "peer", "list", "--json",
                          env={"TEARLINE_KEK_FILE": b.node.settings.kek_file})
        assert listed.code == 0, listed.err
        peers = {p["code"]: p for p in orjson.loads(listed.out)}
        for code in ("CAN", "NZL"):
            pull = peers[code]["pull"]
            assert pull["failures"] >= 1 and pull["last_error"], peers[code]
            assert parse_timestamp(pull["next_try"]) > datetime.now(UTC)  # backed off (30 s at first)
        assert "http 500" in peers["CAN"]["pull"]["last_error"]
        assert "Connect" in peers["NZL"]["pull"]["last_error"]
        assert peers["GBR"]["pull"]["last_error"] is None and peers["GBR"]["pull"]["last_ok"]
        assert peers["GBR"]["push"]["last_error"] is None and peers["GBR"]["push"]["last_ok"]

        # while CAN and NZL are backed off, new reporting at A still comes to B, and CAN is not asked again
        hits = bad.hits
        assert hits > 0
        assert add_reporting(a, build_scenario(seed=98, now=a.node.clock.now(), size=500), 60) == 60
        more = releasable(a, "USA")
        assert more > want_pull
        until("A's new objects at B by pull", lambda: inbox_versions(b, "GBR") == more)
        assert bad.hits == hits
        assert log_b.read_text().count("sync pull with CAN failed") == 1

        # SIGTERM: the server and its background sync stop, and the process exits 0
        hanging.stop()  # (a read still waiting on AUS would otherwise hold the stop up to its timeout)
        proc_b.send_signal(signal.SIGTERM)
        assert proc_b.wait(timeout=60) == 0, log_b.read_text()
        err = log_b.read_text()
        assert "background sync stopped" in err
        assert "Traceback" not in err
    finally:
        bad.stop()
        hanging.stop()
        a.node.close()
        b.node.close()
