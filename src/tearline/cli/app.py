"""The root of the `tearline` command: global options, sub-command groups, exit codes.

Exit codes: 0 ok, 1 error, 2 denied or withheld, 3 invalid input (a usage error too: one line on
standard error, see :mod:`tearline.cli.usage`).
"""

from __future__ import annotations

import sys
from importlib import metadata
from typing import Annotated

import typer
import typer.main

from tearline.cli import audit as audit_cmd
from tearline.cli import collection as collection_cmd
from tearline.cli import demo as demo_cmd
from tearline.cli import export as export_cmd
from tearline.cli import ingest as ingest_cmd
from tearline.cli import partner as partner_cmd
from tearline.cli import peer as peer_cmd
from tearline.cli import policy as policy_cmd
from tearline.cli import psi as psi_cmd
from tearline.cli import reciprocity as reciprocity_cmd
from tearline.cli import serve as serve_cmd
from tearline.cli import sync as sync_cmd
from tearline.cli import trace as trace_cmd
from tearline.cli import user as user_cmd
from tearline.cli import vault as vault_cmd
from tearline.cli.common import State, out, report_error
from tearline.cli.usage import report_abort, report_click_error
from tearline.errors import TearlineError

app = typer.Typer(
    name="tearline",
    help="Share intelligence with allied partners, partner by partner, with proof of what went where.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if not value:
        return
    try:
        version = metadata.version("tearline")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        version = "(not installed)"
    out.print(f"tearline {version}", markup=False, highlight=False)
    raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    data: Annotated[
        str | None, typer.Option("--data", help="the node's data folder [env TEARLINE_DATA; default ./tearline-data]")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="database URL [env TEARLINE_DB_URL; default SQLite in the data folder]"),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_version, help="print the version and exit")
    ] = False,
) -> None:
    """Global options apply to every command."""
    ctx.obj = State(data, db)


app.command("init")(ingest_cmd.init)
app.command("ingest")(ingest_cmd.ingest)
app.command("stats")(ingest_cmd.stats)
app.command("demo")(demo_cmd.demo)
app.command("approve")(policy_cmd.approve)
app.add_typer(policy_cmd.approvals_app, name="approvals")
app.command("preview")(policy_cmd.preview)
app.command("whatif")(policy_cmd.whatif_cmd)
app.add_typer(partner_cmd.app, name="partner")
app.add_typer(collection_cmd.app, name="collection")
app.add_typer(audit_cmd.app, name="audit")
app.command("export")(export_cmd.export)
app.add_typer(vault_cmd.app, name="vault")
app.command("serve")(serve_cmd.serve)
app.add_typer(peer_cmd.app, name="peer")
app.add_typer(sync_cmd.app, name="sync")
app.add_typer(psi_cmd.app, name="psi")
app.command("reciprocity")(reciprocity_cmd.reciprocity)
app.command("trace")(trace_cmd.trace)
app.add_typer(user_cmd.app, name="user")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: runs the app and maps tearline errors and usage errors to exit codes
    (a usage error is one line on standard error and exit 3, never a traceback)."""
    try:
        # click returns the code of a typer.Exit here; with prog_name the help and the error lines
        # say `tearline` under `python -m tearline` and in tests too
        rc = app(args=argv, prog_name="tearline", standalone_mode=False)
    except TearlineError as exc:
        sys.exit(report_error(exc))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, EOFError):
        sys.exit(report_abort())
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.TyperException as exc:  # click's usage errors and friends
        sys.exit(report_click_error(exc, typer.main.get_command(app), sys.argv[1:] if argv is None else argv))
    sys.exit(rc if isinstance(rc, int) else 0)
