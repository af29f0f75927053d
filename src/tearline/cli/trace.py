"""`tearline trace`: which partner's copy a leak came from."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tearline.cli.common import bad_option, err, node_of, out, print_json
from tearline.fingerprint.leak import Leak, read_leak
from tearline.services.trace import MAX_FALSE


def trace(
    ctx: typer.Context,
    files: Annotated[
        list[str], typer.Argument(help="leaked files (STIX, TAXII envelope, MISP event, text); - for stdin")
    ],
    json_out: Annotated[bool, typer.Option("--json", help="the result as JSON")] = False,
    max_false: Annotated[
        float, typer.Option(help="accuse only when the chance of accusing an innocent partner is at most this")
    ] = MAX_FALSE,
    proofs: Annotated[bool, typer.Option("--proofs/--no-proofs", help="inclusion proofs for accused partners")] = True,
) -> None:
    """Trace leaked material to the partner whose copy it came from (docs/trace.md)."""
    if not 0 < max_false < 1:
        bad_option(f"--max-false must be between 0 and 1, not {max_false}")
    leaks: list[Leak] = []
    for name in files:
        try:
            data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            bad_option(f"cannot read `{name}`: {exc.strerror or exc}")
        leaks.append(read_leak(data, name))
    with node_of(ctx) as node:
        tracer = node.tracer(max_false=max_false)
        err.print(f"matching against what was released ({len(leaks)} file(s)) ...")
        result = tracer.trace(leaks, proofs=proofs)
    if json_out:
        print_json(result.to_dict())
        return
    kinds = ", ".join(f"{lk.source}: {lk.kind}" for lk in leaks)
    out.print(f"read {kinds}; matched {len(result.matched)} released object(s), {result.symbols} symbols"
              + (f"; {result.unmatched} part(s) matched nothing released" if result.unmatched else ""))
    if not result.partners:
        out.print("no partner received any of the matched objects: nobody can be accused")
        return
    table = Table(title="partners who received the matched objects, most likely source first")
    for col in ("partner", "score", "threshold", "false-accusation bound", "symbols", "verdict", "ledger entries"):
        table.add_column(col)
    for p in result.partners:
        entries = ", ".join(f"{e.stix_id.split('--')[0]}@{e.version} seq {e.ledger_seq}"
                            + (" ✓proof" if e.proof and e.proof.get("verified") else "") for e in p.entries[:4])
        if len(p.entries) > 4:
            entries += f" (+{len(p.entries) - 4} more)"
        table.add_row(p.partner, f"{p.score:.1f}", "-" if math.isinf(p.threshold) else f"{p.threshold:.1f}",
                      f"{p.bound:.1e}", str(p.symbols), "[bold red]ACCUSED[/]" if p.accused else "not accused", entries)
    out.print(table)
    if not result.accused:
        out.print("nobody accused: no partner's score reaches its threshold"
                  f" (false accusations held below {max_false:g})")
