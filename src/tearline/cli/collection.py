"""`collection add|list`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tearline.cli.common import node_of, out, print_json
from tearline.services.node import add_collection
from tearline.store import nodes

app = typer.Typer(help="Collections (what TAXII serves).", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    alias: Annotated[str, typer.Argument(help="short name, e.g. ransomware")],
    title: Annotated[str | None, typer.Option(help="title shown to partners")] = None,
    description: Annotated[str, typer.Option(help="description shown to partners")] = "",
) -> None:
    """Add a collection that partners read (policy decides what each sees)."""
    with node_of(ctx) as node:
        row = add_collection(node.db, node.clock, alias, title or alias, description, ids=node.ids)
    out.print(f"collection [bold]{alias}[/] added: {row.id}")


@app.command("list")
def list_(ctx: typer.Context, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every collection."""
    with node_of(ctx) as node, node.db.read() as conn:
        rows = nodes.list_collections(conn)
    if json_out:
        print_json([r.__dict__ for r in rows])
        return
    table = Table(title="collections")
    for col in ("alias", "id", "kind", "owner", "title"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.alias, r.id, r.kind, r.owner or "-", r.title)
    out.print(table)
