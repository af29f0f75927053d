"""`vault init-key|add-source|list|show|add-term|import|reveals|keys|rotate-key|retire-key|rotate-data-key`."""

from __future__ import annotations

import contextlib
import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tearline.bootstrap import Node
from tearline.canonical import format_timestamp, from_micros
from tearline.cli.common import bad_option, err, node_of, out, print_json, state
from tearline.crypto.sealing import load_kek, write_kek_file
from tearline.errors import ConfigError, InvalidInput
from tearline.model.sources import Grade, SourceIdentity, SourceSummary
from tearline.services.vault import Vault

app = typer.Typer(help="The source vault: true identities (encrypted), cover names, grades.", no_args_is_help=True)

JsonOut = Annotated[bool, typer.Option("--json", help="print JSON")]
Many = Annotated[list[str] | None, typer.Option(help="repeatable")]


@app.callback()
def vault_root(
    ctx: typer.Context,
    kek_file: Annotated[
        str | None, typer.Option("--kek-file", help="the key-encryption key file [env TEARLINE_KEK_FILE]")
    ] = None,
) -> None:
    """Options for every vault command."""
    if kek_file:
        state(ctx).flags["kek_file"] = kek_file


def _vault(node: Node) -> Vault:
    """The node's vault service (built here until the composition root provides one)."""
    return node.vault


def _show_summary(s: SourceSummary) -> None:
    out.print(f"[bold]{s.cover}[/]  {s.id}")
    out.print(f"grade {s.grade} ({s.grade.description}); compartments {', '.join(sorted(s.compartments)) or '-'}; "
              f"{s.term_count} protected terms")


@app.command("init-key")
def init_key(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Option("--out", help="where to write the new key; the file must not exist")],
) -> None:
    """Make a new key-encryption key file (mode 0600) outside the data folder."""
    settings = state(ctx).settings
    kek = write_kek_file(out_file, data=settings.data)
    path = out_file.resolve()
    out.print(f"key-encryption key written to {path} (key id {kek.kek_id})", markup=False)
    out.print(f"point tearline at it:  export TEARLINE_KEK_FILE={path}", markup=False)
    out.print("keep a copy apart from the data folder and its backups: without it the vault cannot be opened")


@app.command("add-source")
def add_source(
    ctx: typer.Context,
    cover: Annotated[str, typer.Option(help="the public cover name, e.g. NIGHTJAR")],
    name: Annotated[str, typer.Option(help="the true name, sealed")],
    alias: Many = None,
    phone: Many = None,
    email: Many = None,
    address: Many = None,
    note: Many = None,
    grade: Annotated[str | None, typer.Option(help="Admiralty grade, e.g. B2 (default F6)")] = None,
    compartment: Many = None,
    json_out: JsonOut = False,
) -> None:
    """Add a source; prints its id. Every identity value is sealed and becomes a protected term."""
    identity = SourceIdentity(
        name=name, aliases=tuple(alias or ()), phones=tuple(phone or ()), emails=tuple(email or ()),
        addresses=tuple(address or ()), notes=tuple(note or ()),
    )
    with node_of(ctx) as node:
        summary = _vault(node).add_source(
            cover, identity, grade=Grade.parse(grade) if grade else None, compartments=compartment or ()
        )
    if json_out:
        print_json(summary.to_json())
    else:
        out.print(summary.id, markup=False)


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOut = False) -> None:
    """Every source: cover, grade, compartments, number of protected terms (never identities)."""
    with node_of(ctx) as node:
        rows = _vault(node).sources()
    if json_out:
        print_json([s.to_json() for s in rows])
        return
    table = Table("cover", "grade", "compartments", "terms", "id")
    for s in rows:
        table.add_row(s.cover, str(s.grade), ", ".join(sorted(s.compartments)), str(s.term_count), s.id)
    out.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="source id or cover name")],
    reveal: Annotated[bool, typer.Option("--reveal", help="decrypt the identity (recorded)")] = False,
    reason: Annotated[str | None, typer.Option(help="why the identity is needed (recorded)")] = None,
    by: Annotated[str | None, typer.Option(help="who asks (recorded; default the login name)")] = None,
    json_out: JsonOut = False,
) -> None:
    """A source's summary; with --reveal --reason, its identity too (the reveal is recorded)."""
    if reveal and not (reason and reason.strip()):
        bad_option("--reveal needs --reason")
    with node_of(ctx) as node:
        vault = _vault(node)
        if not reveal:
            summary = vault.summary(source)
            identity = None
        else:
            summary, identity = vault.reveal(source, by=by or getpass.getuser(), reason=reason or "")
    if json_out:
        print_json({**summary.to_json(), **({"identity": identity.to_json()} if identity else {})})
        return
    _show_summary(summary)
    if identity is None:
        return
    for key, values in identity.to_json().items():
        shown = values if isinstance(values, list) else [values]
        for v in shown:
            out.print(f"{key:>10}  {v}", markup=False)
    err.print("this reveal has been recorded")


@app.command("add-term")
def add_term(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="source id or cover name")],
    term: Annotated[str, typer.Argument(help="an extra protected term, sealed: a code name, a place")],
) -> None:
    """Add a protected term to a source."""
    with node_of(ctx) as node:
        summary = _vault(node).add_term(source, term)
    out.print(f"{summary.cover}: {summary.term_count} protected terms")


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV with columns cover,name,aliases,phones,emails,grade,compartments")],
    json_out: JsonOut = False,
) -> None:
    """Import sources from CSV, all or nothing (`;` separates values inside a cell)."""
    try:
        text = file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read `{file}`: {type(exc).__name__}") from None
    with node_of(ctx) as node:
        added = _vault(node).import_csv(text)
    if json_out:
        print_json([s.to_json() for s in added])
    else:
        out.print(f"{len(added)} sources imported")


@app.command("reveals")
def reveals(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Argument(help="source id or cover name (default all)")] = None,
    json_out: JsonOut = False,
) -> None:
    """The reveal log: who decrypted which source, when and why."""
    with node_of(ctx) as node:
        rows = _vault(node).reveals(source)
    items = [{"source": r.source_id, "by": r.by, "reason": r.reason, "at": format_timestamp(from_micros(r.at_us))}
             for r in rows]
    if json_out:
        print_json(items)
        return
    table = Table("at", "source", "by", "reason")
    for i in items:
        table.add_row(i["at"], i["source"], i["by"], i["reason"])
    out.print(table)


@app.command("keys")
def keys(ctx: typer.Context, json_out: JsonOut = False) -> None:
    """The data-key wraps: data key number, key-encryption key id, active (never a key)."""
    with node_of(ctx) as node:
        vault = _vault(node)
        with contextlib.suppress(ConfigError):
            _ = vault.kek  # mark the wraps this process can open, when a key is configured
        status = vault.key_status()
    items = [{"row": k.row, "data_key": k.number, "kek_id": k.kek_id, "active": k.active, "in_use": k.mine,
              "created": format_timestamp(from_micros(k.created_us))} for k in status]
    if json_out:
        print_json(items)
        return
    table = Table("row", "data key", "kek id", "active", "this key", "created")
    for i in items:
        table.add_row(str(i["row"]), str(i["data_key"] or "-"), str(i["kek_id"]), "yes" if i["active"] else "no",
                      "yes" if i["in_use"] else "", str(i["created"]))
    out.print(table)


@app.command("rotate-key")
def rotate_key(
    ctx: typer.Context,
    new_kek_file: Annotated[Path, typer.Option("--new-kek-file", help="the new key-encryption key file")],
) -> None:
    """Wrap the data keys under a new key-encryption key too (values untouched; no downtime)."""
    settings = state(ctx).settings
    new = load_kek(kek_file=str(new_kek_file), kek="", data=settings.data)
    with node_of(ctx) as node:
        vault = _vault(node)
        added = vault.rotate_kek(new)
        old = vault.kek.kek_id
    out.print(f"{added} data keys wrapped for key `{new.kek_id}`.", markup=False)
    out.print(f"next: point every tearline process at {new_kek_file.resolve()}, then run "
              f"`tearline vault retire-key {old}`", markup=False)


@app.command("retire-key")
def retire_key(
    ctx: typer.Context, kek_id: Annotated[str, typer.Argument(help="the key id of the old key-encryption key")]
) -> None:
    """Erase the wraps made for an old key-encryption key (run with the new key configured)."""
    with node_of(ctx) as node:
        n = _vault(node).retire_kek(kek_id)
    out.print(f"{n} wraps for key `{kek_id}` erased", markup=False)


@app.command("rotate-data-key")
def rotate_data_key(
    ctx: typer.Context,
    batch: Annotated[int, typer.Option(help="values re-sealed per transaction", min=1)] = 500,
) -> None:
    """Make a new data key and re-seal every value under it, in batches; then erase the old key."""
    with node_of(ctx) as node:
        report = _vault(node).rotate_data_key(batch=batch)
    out.print(f"data key {report.new_key}: {report.resealed} values re-sealed, {len(report.retired)} old wraps erased")
