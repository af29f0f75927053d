"""`tearline user add|list|set-role|remove`: operators of the web UI (roles viewer, officer, admin).

Users are managed here only (the UI has no user page). A password is read from a file or asked
twice without echo; it is never a command-line argument, so it stays out of shell history.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tearline.cli.common import bad_option, node_of, out, print_json
from tearline.errors import InvalidInput

if TYPE_CHECKING:
    from tearline.bootstrap import Node
    from tearline.services.users import Role, Users

app = typer.Typer(help="Operators of the web UI and their roles (viewer, officer, admin).", no_args_is_help=True)

RoleOpt = Annotated[str, typer.Option("--role", help="viewer, officer or admin")]


def _users(node: Node) -> Users:
    # imported here: the `users` table joins the shared metadata only where operators are used
    # (until the table has its migration, commands that walk every table must not see it)
    from tearline.services.users import Users

    return Users(node.db, node.clock)


def _role(text: str) -> Role:
    from tearline.services.users import Role

    return Role.from_text(text)


def _password(password_file: str | None) -> str:
    if password_file is not None:
        try:
            text = Path(password_file).read_text("utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read `{password_file}`: {exc.strerror}") from None
        return text.rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise InvalidInput("the two passwords differ")
    return first


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the operator's user name")],
    role: RoleOpt = "viewer",
    password_file: Annotated[
        str | None, typer.Option("--password-file", help="read the password from this file (else asked twice)")
    ] = None,
) -> None:
    """Add an operator; the password is stored as an argon2id hash only."""
    r = _role(role)
    password = _password(password_file)
    with node_of(ctx) as node:
        user = _users(node).add(name, r, password)
    out.print(f"added `{user.name}` as {user.role.text}", markup=False)


@app.command("list")
def listing(ctx: typer.Context, json_out: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """List operators and their roles."""
    with node_of(ctx) as node:
        users = _users(node).listing()
    if json_out:
        print_json([{"name": u.name, "role": u.role.text} for u in users])
        return
    table = Table(title="operators")
    table.add_column("name")
    table.add_column("role")
    for u in users:
        table.add_row(u.name, u.role.text)
    out.print(table)


@app.command("set-role")
def set_role(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the operator's user name")],
    role: RoleOpt,
) -> None:
    """Change an operator's role (takes effect on their next request)."""
    r = _role(role)
    with node_of(ctx) as node:
        user = _users(node).set_role(name, r)
    out.print(f"`{user.name}` is now {user.role.text}", markup=False)


@app.command("remove")
def remove(ctx: typer.Context, name: Annotated[str, typer.Argument(help="the operator's user name")]) -> None:
    """Remove an operator (their open sessions stop working at once)."""
    if not name.strip():
        bad_option("give a user name")
    with node_of(ctx) as node:
        _users(node).remove(name)
    out.print(f"removed `{name.strip().lower()}`", markup=False)
