"""`tearline sync pull|push [CODE]`: one federation run with every peer (or one);
`tearline sync rejections [CODE]`: what was refused, and what its retries found.

Exit code 1 when any peer failed (the others still ran); refused objects are listed, not fatal.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tearline.canonical import format_timestamp, from_micros
from tearline.cli.common import node_of, out, print_json
from tearline.errors import EXIT_ERROR

if TYPE_CHECKING:
    from tearline.settings import Settings

app = typer.Typer(help="Pull from and push to peers' TAXII servers.", no_args_is_help=True)


def _run(ctx: typer.Context, direction: str, code: str | None, as_json: bool) -> None:

    with node_of(ctx) as node:
        reports = node.federation().run(direction, code)
    if as_json:
        print_json([r.to_json() for r in reports])
    else:
        t = Table(title=f"sync {direction}")
        for col in ("peer", "stored" if direction == "pull" else "accepted", "duplicates", "refused", "withheld",
                    "retried", "pages", "error"):
            t.add_column(col)
        for r in reports:
            retried = f"{r.recovered} of {r.retried} stored" if r.retried else ""
            t.add_row(r.peer, str(r.objects), str(r.duplicates), str(r.rejected), str(r.withheld), retried,
                      str(r.pages), r.error or "")
        out.print(t)
        refused = [(r.peer, x) for r in reports for x in r.rejections]
        if refused:
            rt = Table(title="refused objects")
            for col in ("peer", "id", "version", "reason", "state"):
                rt.add_column(col)
            for peer, x in refused[:200]:
                rt.add_row(peer, x.stix_id, x.version, x.reason, x.state)
            out.print(rt)
            if len(refused) > 200:
                out.print(f"... and {len(refused) - 200} more (all in the node's sync rejections)")
    if any(r.error for r in reports):
        raise typer.Exit(EXIT_ERROR)


@app.command("pull")
def pull(
    ctx: typer.Context,
    code: Annotated[str | None, typer.Argument(help="one peer (default: every peer)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Fetch what peers added since the last pull; resumes where an interrupted pull stopped."""
    _run(ctx, "pull", code, as_json)


@app.command("push")
def push(
    ctx: typer.Context,
    code: Annotated[str | None, typer.Argument(help="one peer (default: every peer)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Send peers what the release pipeline releases to them and they have not confirmed yet."""
    _run(ctx, "push", code, as_json)


@app.command("rejections")
def rejections(
    ctx: typer.Context,
    code: Annotated[str | None, typer.Argument(help="one peer (default: every peer)")] = None,
    state: Annotated[
        str | None, typer.Option("--state", help="only `pending`, `refused`, `stored` or `gone`")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="newest first, at most this many")] = 1000,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Objects refused in a pull or a push: why, and what retrying the pending ones found."""
    from tearline.services.sync import Federation

    with node_of(ctx) as node:
        fed: Federation = node.federation()
        rows = fed.rejections(code, state=state, limit=limit)

    def when(us: int | None) -> str | None:
        return None if us is None else format_timestamp(from_micros(us))

    if as_json:
        print_json([
            {"peer": r.peer, "direction": r.direction, "id": r.stix_id, "version": r.version, "reason": r.reason,
             "state": r.state, "attempts": r.attempts, "outcome": r.outcome, "collection": r.collection,
             "at": when(r.at_us), "retried": when(r.retried_us)}
            for r in rows
        ])
        return
    t = Table(title="sync rejections")
    for col in ("peer", "direction", "id", "version", "reason", "state", "attempts", "last retry"):
        t.add_column(col)
    for r in rows:
        t.add_row(r.peer, r.direction, r.stix_id, r.version, r.reason, r.state, str(r.attempts), r.outcome or "")
    out.print(t)


def parse_duration(text: str) -> float:
    """Seconds from `90`, `90s`, `5m`, `1h`; a bad value is an invalid-input error."""
    import re

    from tearline.errors import InvalidInput

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise InvalidInput(f"bad duration `{text}` (e.g. `30s`, `5m`, `1h`)")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def start_background(settings: Settings, every_s: float) -> tuple[threading.Thread, threading.Event]:
    """A daemon thread that syncs with every peer every ``every_s`` seconds over its own node; returns
    (thread, stop event)."""
    from tearline.bootstrap import open_node
    from tearline.cli.common import err
    from tearline.services.sync import RunReport, sync_forever

    stop = threading.Event()

    def report(r: RunReport) -> None:
        if r.error:
            after = f" (next try after {format_timestamp(from_micros(r.next_try_us))})" if r.next_try_us else ""
            err.print(f"sync {r.direction} with {r.peer} failed: {r.error}{after}", markup=False)

    def main() -> None:
        try:
            node = open_node(settings)
        except Exception as exc:
            err.print(f"background sync cannot open the node: {exc}", markup=False)
            return
        try:
            sync_forever(node.federation(stop=stop), every_s, stop, report)
        finally:
            node.close()

    thread = threading.Thread(target=main, name="tearline-sync", daemon=True)
    thread.start()
    return thread, stop
