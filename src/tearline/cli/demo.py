"""`tearline demo`."""

from __future__ import annotations

from typing import Annotated

import typer

from tearline.cli.common import out, state


def demo(
    ctx: typer.Context,
    out_dir: Annotated[
        str | None, typer.Option("--out", help="folder for the demo node (default: the data folder)")
    ] = None,
    seed: Annotated[int, typer.Option(help="scenario seed")] = 7,
    size: Annotated[int, typer.Option(help="scenario size in object versions")] = 3000,
    network: Annotated[
        bool, typer.Option("--network", help="five nodes on 127.0.0.1 syncing over TAXII, then a scale-back")
    ] = False,
) -> None:
    """Build a synthetic UK node with Five Eyes and other partners, then scale one back."""
    from dataclasses import replace
    from pathlib import Path

    if network:
        from tearline.demo.network import run_network

        folder = Path(out_dir) if out_dir else state(ctx).settings.data / "network"
        outcome = run_network(folder, out)
        out.print(f"done in {outcome.seconds:.1f} s")
        if not outcome.ok:
            raise typer.Exit(1)
        return
    from tearline.demo.run import run_demo

    settings = state(ctx).settings
    if out_dir:
        settings = replace(settings, data=Path(out_dir))
    result = run_demo(settings, out, seed=seed, size=size)
    out.print(f"done in {result.seconds:.1f} s")
