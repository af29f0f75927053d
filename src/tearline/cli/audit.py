"""`audit key|head|prove|consistency|verify|export`: the release ledger."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer

from tearline.cli.common import fail, node_of, out, print_json

app = typer.Typer(help="The tamper-evident release ledger.", no_args_is_help=True)


@app.command("key")
def key(ctx: typer.Context) -> None:
    """The node's Ed25519 public key (hex), which partners use to check tree heads."""
    with node_of(ctx) as node:
        out.print(node.ledger.public_key().hex(), markup=False)


@app.command("head")
def head(ctx: typer.Context) -> None:
    """The latest signed tree head (signing a new one if the log has grown), as JSON."""
    with node_of(ctx) as node:
        h = node.ledger.head()
    print_json(h.to_json() if h else {"size": 0})


@app.command("prove")
def prove(
    ctx: typer.Context,
    seq: Annotated[int, typer.Argument(help="the ledger entry")],
    size: Annotated[int | None, typer.Option(help="tree size (default: the latest head)")] = None,
) -> None:
    """An inclusion proof for one entry, with its leaf and the signed head it is checked against."""
    with node_of(ctx) as node:
        p = node.ledger.prove(seq, size)
    print_json({
        "seq": p.seq, "size": p.size, "leaf": p.leaf.decode("utf-8"), "leaf_hash": p.leaf_hash.hex(),
        "path": [h.hex() for h in p.path], "head": p.head.to_json(),
    })


@app.command("consistency")
def consistency(
    ctx: typer.Context,
    old_size: Annotated[int, typer.Argument(help="the earlier tree size")],
    new_size: Annotated[int | None, typer.Argument(help="the later tree size (default: the latest head)")] = None,
) -> None:
    """A consistency proof: the log of OLD_SIZE entries is a prefix of the log of NEW_SIZE."""
    with node_of(ctx) as node:
        first, second, path = node.ledger.consistency(old_size, new_size)
    print_json({"first": first, "second": second, "path": [h.hex() for h in path]})


@app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Recompute every hash and root from the stored leaves and check every signed head.

    Exits non-zero and names the first bad entry on failure."""
    with node_of(ctx) as node:
        report = node.ledger.verify()  # read-only: never signs a head over what it is checking
    if report.ok:
        out.print(f"OK: {report.leaves} entries, {report.heads} signed heads verified")
        return
    p = report.problem
    assert p is not None
    where = f"seq {p.seq}" if p.seq is not None else f"head of size {p.head_size}"
    fail(f"ledger verification failed at {where}: {p.reason}")


@app.command("export")
def export(ctx: typer.Context) -> None:
    """Leaves and signed heads as JSON lines (format in docs/ledger.md)."""
    with node_of(ctx) as node:
        node.ledger.head()
        w = sys.stdout.buffer
        for item in node.ledger.export():
            w.write(orjson.dumps(item, option=orjson.OPT_SORT_KEYS) + b"\n")
        w.flush()


