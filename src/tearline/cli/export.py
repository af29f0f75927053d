"""`tearline export`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tearline.cli.common import err, node_of


def export(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="the partner code")],
    out_file: Annotated[str, typer.Option("--out", help="file to write, or - for stdout")] = "-",
    collection: Annotated[str, typer.Option(help="collection id or alias")] = "shared",
) -> None:
    """Write a STIX bundle of what a partner may receive (recorded in the ledger like any release)."""

    with node_of(ctx) as node:
        exporter = node.exporter()
        if out_file == "-":
            summary = exporter.export(code, sys.stdout.buffer, collection=collection)
            sys.stdout.flush()
        else:
            tmp = Path(out_file + ".part")
            with tmp.open("wb") as f:
                summary = exporter.export(code, f, collection=collection)
            tmp.replace(out_file)
    span = (
        f"; ledger entries {summary.ledger_first}..{summary.ledger_last}" if summary.ledger_first is not None else ""
    )
    err.print(f"exported {summary.released} objects for {code.upper()} ({summary.withheld} withheld at release){span}")
