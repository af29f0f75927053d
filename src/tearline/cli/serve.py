"""`tearline serve`: the TAXII 2.1 server.

Served by uvicorn (h11, asyncio): its import-string ``factory=True`` mode is what ``--workers`` needs.
Measured with bench/taxii.py on the ATT&CK data, 16 connections, one worker: tearline 2,052-2,497
requests/s, 58-59% of the floor (the same Starlette stack answering prebuilt pages) in the same runs.
granian serves a trivial app faster (~17,000/s on one worker against uvicorn's ~6,800), but at
tearline's per-request cost the server is not the limit; it remains the next thing to try. Every worker process
builds its own app from the environment through the import-string factory
``tearline.asgi:from_env`` (uvicorn's ``factory=True``), so ``--workers N`` shares nothing but the
database and the keys: cursors are stateless and each worker keeps its own release cache.
uvicorn stops gracefully on SIGTERM and SIGINT (in-flight requests finish, then the node closes);
then the background sync of ``--sync-every`` is stopped (it finishes the page or batch in hand),
and a SIGTERM exits 0.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from typing import Annotated, Any

import typer

from tearline.cli.common import err, node_of, out, state

FACTORY = "tearline.asgi:from_env"
SYNC_STOP_S = 30  # how long a stopping server waits for the background sync to finish what it is doing


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="worker processes")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "warning",
    sync_every: Annotated[
        str | None, typer.Option("--sync-every", help="pull from and push to every peer this often (`30s`, `5m`)")
    ] = None,
) -> None:
    """Serve this node over TAXII 2.1 (each partner sees only what its profile releases)."""
    import uvicorn

    every = None
    if sync_every:
        from tearline.cli.sync import parse_duration

        every = parse_duration(sync_every)  # a bad value is refused before anything starts
    settings = state(ctx).settings
    with node_of(ctx) as node:  # refuse to start on a folder without a node, before binding
        code = node.info.code
        node.gate.refresh()  # and without the vault key when sources need protecting
    os.environ["TEARLINE_DATA"] = str(settings.data.resolve())
    if settings.db:
        os.environ["TEARLINE_DB_URL"] = settings.db
    shown = f"[{host}]" if ":" in host else host
    out.print(f"node {code}: TAXII 2.1 discovery at http://{shown}:{port}/taxii2/ ({workers} worker(s))")
    # uvicorn stops gracefully on SIGTERM, puts the previous handler back and raises the signal
    # again: with the default handler the process would die there, before the background sync is
    # stopped. This one (also in force before uvicorn takes the signal over) unwinds `serve` like
    # SIGINT does, so the sync is stopped below and the process exits 0.
    syncing: tuple[threading.Thread, threading.Event] | None = None

    def on_sigterm(*_: object) -> None:
        if syncing is not None:
            syncing[1].set()
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    if every is not None:
        from tearline.cli.sync import start_background

        syncing = start_background(settings, every)
        out.print(f"syncing with peers every {sync_every}")
    try:
        _run(uvicorn, host, port, workers, log_level)
    finally:
        if syncing is not None:
            thread, stop = syncing
            stop.set()
            thread.join(timeout=SYNC_STOP_S)
            if thread.is_alive():
                err.print(f"background sync still busy after {SYNC_STOP_S} s: stopped where it was "
                          "(every committed page and confirmation is kept)")
            else:
                err.print("background sync stopped")
        signal.signal(signal.SIGTERM, previous)


def _run(uvicorn: Any, host: str, port: int, workers: int, log_level: str) -> None:
    if workers == 1:
        uvicorn.run(FACTORY, factory=True, host=host, port=port, log_level=log_level,
                    timeout_graceful_shutdown=10, server_header=False)
        return
    # Several workers share one listening socket that uvicorn would create with protocol number 0;
    # asyncio then never sets TCP_NODELAY on accepted connections and every response waits on a
    # delayed ACK (~40 ms; bench/taxii.py). A socket made with IPPROTO_TCP passes it on to them.
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(FACTORY, factory=True, host=host, port=port, workers=workers, log_level=log_level,
                            timeout_graceful_shutdown=10, server_header=False)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise typer.Exit(_bind_error(host, port, exc)) from None
    sock.set_inheritable(True)
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()


def _bind_error(host: str, port: int, exc: OSError) -> int:
    err.print(f"[bold red]error:[/] cannot listen on {host}:{port}: {exc.strerror or exc}")
    return 1
