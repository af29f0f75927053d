"""`init`, `ingest`, `stats`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from tearline.bootstrap import create_node
from tearline.cli.common import err, node_of, out, print_json, state
from tearline.errors import EXIT_INVALID
from tearline.services.intake import read_label_arg
from tearline.store import objects as objects_store
from tearline.store import partners as partners_store


def init(
    ctx: typer.Context,
    code: Annotated[str | None, typer.Option(help="this node's partner code (default GBR)")] = None,
    name: Annotated[str | None, typer.Option(help="this node's name")] = None,
) -> None:
    """Create the node: database schema, keys, the `shared` collection."""
    settings = state(ctx).settings
    node, created = create_node(settings, code=code, name=name)
    try:
        verb = "created" if created else "already set up; schema up to date"
        out.print(f"node [bold]{node.info.code}[/] ({node.info.name}) {verb} in {settings.data}")
    finally:
        node.close()


def ingest(
    ctx: typer.Context,
    paths: Annotated[list[str], typer.Argument(help="bundles, TAXII envelopes, JSON lines, or - for stdin")],
    collection: Annotated[str, typer.Option(help="collection id or alias")] = "shared",
    label: Annotated[
        str | None, typer.Option(help="default label for objects without markings, e.g. `SECRET//REL TO USA, GBR`")
    ] = None,
    topic: Annotated[list[str] | None, typer.Option(help="a topic to add to every object (repeatable)")] = None,
    skip_invalid: Annotated[bool, typer.Option(help="store the valid objects of a unit, report the others")] = False,
    strict: Annotated[bool, typer.Option(help="also run the OASIS stix2-validator on every object (slow)")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Read STIX 2.1 objects, validate and label them, and store every version."""
    for p in paths:
        if p != "-" and not Path(p).is_file():
            err.print(f"[bold red]error:[/] no such file `{p}`")
            raise typer.Exit(EXIT_INVALID)
    with node_of(ctx) as node:
        default = read_label_arg(label, topic or [], node.info.default_label)
        total = sum(Path(p).stat().st_size for p in paths if p != "-")
        show = total > 2_000_000 and sys.stderr.isatty()
        with Progress(
            TextColumn("ingest"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
            console=err, disable=not show, transient=True,
        ) as bar:
            task = bar.add_task("ingest", total=total or None)
            summary = node.intake.ingest_paths(
                paths,
                collection=collection,
                default=default,
                skip_invalid=skip_invalid,
                strict=strict,
                stdin=sys.stdin.buffer,
                progress=lambda n: bar.advance(task, n),
            )
    if json_out:
        print_json(summary.to_json())
    else:
        for line in summary.problems:
            err.print(f"[yellow]rejected:[/] {line}", markup=True)
        out.print(f"new {summary.new}, duplicate {summary.duplicate}, rejected {summary.rejected}")


def stats(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON (a stable contract)")] = False,
) -> None:
    """Counts of stored objects, versions and partners."""
    with node_of(ctx) as node, node.db.read() as conn:
        ids, versions = objects_store.counts(conn)
        n_partners = partners_store.count_partners(conn)
    data = {"objects": ids, "versions": versions, "partners": n_partners}
    if json_out:
        print_json(data)
    else:
        out.print(f"objects {ids}, versions {versions}, partners {n_partners}")
