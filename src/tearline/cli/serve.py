"""`tearline serve`: the TAXII 2.1 server.

Served by uvicorn (h11, asyncio): its import-string ``factory=True`` mode is what ``--workers`` needs
and the HTTP layer is not the bottleneck (bench/taxii.py: the same Starlette stack serving prebuilt
pages answers ~4,700 requests/s on one worker, tearline ~180-220). granian has not been measured
against it yet; the choice should be revisited once per-request work is smaller. Every worker process
builds its own app from the environment through the import-string factory
``tearline.asgi:from_env`` (uvicorn's ``factory=True``), so ``--workers N`` shares nothing but the
database and the keys: cursors are stateless and each worker keeps its own release cache.
uvicorn stops gracefully on SIGTERM and SIGINT (in-flight requests finish, then the node closes).
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from tearline.cli.common import node_of, out, state

FACTORY = "tearline.asgi:from_env"


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

    settings = state(ctx).settings
    with node_of(ctx) as node:  # refuse to start on a folder without a node, before binding
        code = node.info.code
        node.gate.refresh()  # and without the vault key when sources need protecting
    os.environ["TEARLINE_DATA"] = str(settings.data.resolve())
    if settings.db:
        os.environ["TEARLINE_DB_URL"] = settings.db
    shown = f"[{host}]" if ":" in host else host
    out.print(f"node {code}: TAXII 2.1 discovery at http://{shown}:{port}/taxii2/ ({workers} worker(s))")
    syncing = None
    if sync_every:
        from tearline.cli.sync import parse_duration, start_background

        syncing = start_background(settings, parse_duration(sync_every))
        out.print(f"syncing with peers every {sync_every}")
    try:
        _run(uvicorn, host, port, workers, log_level)
    finally:
        if syncing is not None:
            syncing[1].set()  # type: ignore[attr-defined]
            syncing[0].join(timeout=30)  # type: ignore[attr-defined]


def _run(uvicorn: Any, host: str, port: int, workers: int, log_level: str) -> None:
    uvicorn.run(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        timeout_graceful_shutdown=10,
        server_header=False,
    )
