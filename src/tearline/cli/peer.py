"""`tearline peer add|list|remove`: partners' nodes this node syncs with."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tearline.canonical import format_timestamp, from_micros
from tearline.cli.common import bad_option, node_of, out, print_json

app = typer.Typer(help="Partners' nodes this node pulls from and pushes to.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="an existing partner's code")],
    url: Annotated[str, typer.Option("--url", help="the partner node's TAXII discovery URL")],
    token_file: Annotated[Path, typer.Option("--token-file", help="file holding the token that node issued to us")],
    collection: Annotated[
        list[str] | None, typer.Option("--collection", help="collection id or alias to pull (repeatable)")
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="replace a peer already linked under this code")] = False,
) -> None:
    """Link a partner's node; its token is stored sealed under the vault key."""
    from tearline.services.sync import Peers

    try:
        token = token_file.read_text("utf-8").strip()
    except OSError as exc:
        bad_option(f"cannot read `{token_file}`: {exc.strerror or type(exc).__name__}")
        return
    with node_of(ctx) as node:
        peer = Peers(node.db, node.clock, node.vault).add(code, url, token, collection or (), replace=replace)
    out.print(f"peer {peer.code} at {peer.url}")


@app.command("list")
def list_cmd(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Peers, what to pull, and how the last pull and push went."""

    with node_of(ctx) as node:
        fed = node.federation()
        rows = fed.peers.rows()
        health = {(h.peer, h.direction): h for h in fed.health()}
    data = []
    for r in rows:
        item: dict[str, object] = {"code": r.code, "url": r.url, "collections": list(r.collections)}
        for d in ("pull", "push"):
            h = health.get((r.code, d))
            item[d] = None if h is None else {
                "last_ok": None if h.last_ok_us is None else format_timestamp(from_micros(h.last_ok_us)),
                "last_error": h.last_error, "failures": h.failures,
                "next_try": format_timestamp(from_micros(h.next_try_us)) if h.last_error else None,
            }
        data.append(item)
    if as_json:
        print_json(data)
        return
    t = Table(title="peers")
    for col in ("code", "url", "collections", "pull", "push"):
        t.add_column(col)
    for item in data:
        cells = []
        for d in ("pull", "push"):
            shown = item[d]
            if not isinstance(shown, dict) or (shown["last_ok"] is None and shown["last_error"] is None):
                cells.append("never")
            elif shown["last_error"]:
                cells.append(
                    f"{shown['last_error']} ({shown['failures']} failure(s); next try after {shown['next_try']})"
                )
            else:
                cells.append(f"ok {shown['last_ok']}")
        cols = item["collections"]
        t.add_row(str(item["code"]), str(item["url"]), ", ".join(cols) if isinstance(cols, list) and cols else "all",
                  *cells)
    out.print(t)


@app.command("remove")
def remove(ctx: typer.Context, code: Annotated[str, typer.Argument(help="the peer's code")]) -> None:
    """Stop syncing with a peer (what it sent and what was pushed stay recorded)."""
    from tearline.services.sync import Peers

    with node_of(ctx) as node:
        Peers(node.db, node.clock, node.vault).remove(code)
    out.print(f"peer {code.upper()} removed")
