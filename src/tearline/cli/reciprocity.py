"""`tearline reciprocity [--since DATE] [--json]`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tearline.cli.common import bad_option, node_of, out, print_json


def reciprocity(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="only from this date (YYYY-MM-DD or a STIX timestamp)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    detail: Annotated[bool, typer.Option("--detail", help="also the tables by topic and by month")] = False,
) -> None:
    """Per partner: object versions received from it and released to it, by topic and month."""
    from datetime import UTC, datetime

    from tearline.canonical import parse_timestamp
    from tearline.services.reciprocity import reciprocity as compute

    when = None
    if since:
        try:
            when = (datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=UTC) if len(since) == 10
                    else parse_timestamp(since))
        except ValueError:
            bad_option(f"bad date `{since}`")
    with node_of(ctx) as node:
        flows = compute(node.db, since=when)
    if as_json:
        print_json([f.to_json() for f in flows])
        return
    t = Table(title="reciprocity (object versions)")
    for col in ("partner", "received", "released", "balance"):
        t.add_column(col, justify="right" if col != "partner" else "left")
    for f in flows:
        t.add_row(f.partner, str(f.received), str(f.released), f"{f.balance:+d}")
    out.print(t)
    if not detail:
        return
    for f in flows:
        for title, rows in (("topic", f.by_topic), ("month", f.by_month)):
            if not rows:
                continue
            d = Table(title=f"{f.partner} by {title}")
            for col in (title, "received", "released", "balance"):
                d.add_column(col)
            for k, (rec, rel) in sorted(rows.items()):
                d.add_row(k, str(rec), str(rel), f"{rec - rel:+d}")
            out.print(d)
