"""`tearline psi query PEER --type T[,T...] [--cardinality-only]`: private set intersection with a
registered peer (docs/psi.md). Prints the matched values, or only their count."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tearline.cli.common import node_of, out, print_json

app = typer.Typer(help="Private set intersection with a peer (deconfliction without disclosure).",
                  no_args_is_help=True)


@app.command("query")
def query(
    ctx: typer.Context,
    peer: Annotated[str, typer.Argument(help="the peer's code (`tearline peer add`)")],
    types: Annotated[str, typer.Option("--type", help="comma-separated: ipv4-addr, domain-name, "
                                       "file:hashes.SHA-256, ...")],
    cardinality_only: Annotated[bool, typer.Option("--cardinality-only", help="learn only how many")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Which of our values of these types (or how many) the peer also holds and would release to us."""
    from tearline.services.psi_client import show

    with node_of(ctx) as node:
        result = node.psi_querier().query(peer, types, cardinality_only=cardinality_only)
    if as_json:
        doc = result.to_json()
        if result.values is not None:
            doc["values"] = [dict(zip(("type", "value"), show(v), strict=True)) for v in result.values]
        print_json(doc)
        return
    out.print(f"{result.count} of our {result.client_size} values are held by {result.peer} "
              f"(its set for us: {result.server_size})")
    if result.values:
        t = Table()
        t.add_column("type")
        t.add_column("value")
        for v in result.values:
            t.add_row(*show(v))
        out.print(t)
