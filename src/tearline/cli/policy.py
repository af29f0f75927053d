"""`approve`, `approvals`, `preview`, `whatif`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from tearline.canonical import format_timestamp, from_micros
from tearline.cli.common import bad_option, err, node_of, out, print_json
from tearline.cli.profile_options import Clearance, Embargo, Exclude, TlpCeiling, profile_change, show_whatif
from tearline.clock import parse_time
from tearline.errors import EXIT_DENIED

approvals_app = typer.Typer(help="ORCON and TLP:RED approvals.", no_args_is_help=True)


def approve(
    ctx: typer.Context,
    object_id: Annotated[str, typer.Argument(help="the STIX id; the approval covers all its versions")],
    partner: Annotated[str, typer.Option(help="the partner code")],
    by: Annotated[str, typer.Option(help="who approves, recorded with the approval")],
    reason: Annotated[str, typer.Option(help="the reason recorded with the approval")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Approve an ORCON (or TLP:RED) object for one partner: its HOLD becomes a release."""
    with node_of(ctx) as node:
        row = node.approvals.approve(object_id, partner, by=by, reason=reason)
    if json_out:
        print_json(_approval_json(row))
    else:
        out.print(f"approval {row.id}: `{row.stix_id}` for {row.partner}")


@approvals_app.command("list")
def approvals_list(
    ctx: typer.Context,
    partner: Annotated[str | None, typer.Option(help="only this partner")] = None,
    active: Annotated[bool, typer.Option(help="only approvals not revoked")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Approvals, oldest first."""
    with node_of(ctx) as node:
        rows = node.approvals.listing(partner=partner, active_only=active)
    if json_out:
        print_json([_approval_json(r) for r in rows])
        return
    table = Table(title="approvals")
    for col in ("id", "object", "partner", "by", "reason", "when", "revoked"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r.id), r.stix_id, r.partner, r.approved_by, r.reason,
                      format_timestamp(from_micros(r.created_us)),
                      "-" if r.active else f"{r.revoked_by}: {r.revoke_reason}")
    out.print(table)


@approvals_app.command("revoke")
def approvals_revoke(
    ctx: typer.Context,
    approval_id: int,
    by: Annotated[str, typer.Option(help="who revokes, recorded with the revocation")],
    reason: Annotated[str, typer.Option(help="the reason recorded with the revocation")],
) -> None:
    """Revoke an approval: the object goes back to HOLD for that partner."""
    with node_of(ctx) as node:
        row = node.approvals.revoke(approval_id, by=by, reason=reason)
    out.print(f"approval {row.id} revoked")


def _approval_json(r: object) -> dict[str, object]:
    d = dict(r.__dict__)
    d["created"] = format_timestamp(from_micros(d.pop("created_us")))
    rv = d.pop("revoked_us")
    d["revoked"] = None if rv is None else format_timestamp(from_micros(rv))
    return d


def preview(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="the partner code")],
    object_id: Annotated[str, typer.Argument(help="the STIX id")],
    version: Annotated[str | None, typer.Option(help="a version (its `modified`); default the latest")] = None,
    at: Annotated[str | None, typer.Option(help="decide as at this time (ISO 8601); default now")] = None,
    collection: Annotated[str | None, typer.Option(
        help="the collection whose copy to preview (id or alias); default `shared` when it holds the object"
    )] = None,
) -> None:
    """Print exactly the bytes the partner would receive, or the verdict and every reason.

    Which collection's copy is previewed is said on standard error. Exit 0 when released, 2 when
    withheld or held."""
    when = None
    if at is not None:
        try:
            when = parse_time(at)
        except ValueError as exc:
            bad_option(str(exc))
    with node_of(ctx) as node:
        preview = node.insight.preview_copy(code, object_id, version=version, at=when, collection=collection)
    outcome = preview.outcome
    also = f"; also in {', '.join(f'`{a}`' for a in preview.others)} (--collection)" if preview.others else ""
    err.print(f"the copy in collection `{preview.collection}`{also}", markup=False)
    if outcome.body is not None:
        sys.stdout.buffer.write(outcome.body + b"\n")
        sys.stdout.flush()
        return
    out.print(f"{outcome.verdict.name} for {outcome.partner}: {outcome.stix_id} {outcome.version}")
    for r in outcome.reasons:
        out.print(f"  {r}", markup=False)
    raise typer.Exit(EXIT_DENIED)


def whatif_cmd(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="the partner code")],
    clearance: Clearance = None,
    tlp_ceiling: TlpCeiling = None,
    exclude_topic: Exclude = None,
    embargo: Embargo = None,
    sanitised_only: Annotated[bool | None, typer.Option("--sanitised-only", help="always the tearline version")] = None,
    suspend: Annotated[bool | None, typer.Option("--suspend", help="suspend all releases")] = None,
    since: Annotated[str | None, typer.Option(help="only versions added since (ISO 8601)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the report as JSON (docs/policy.md)")] = False,
) -> None:
    """Compare a proposed scale-back with the profile in force, over every version since a date."""
    change = profile_change(clearance, tlp_ceiling, exclude_topic, None, embargo, sanitised_only, suspend)
    when = None
    if since is not None:
        try:
            when = parse_time(since)
        except ValueError as exc:
            bad_option(str(exc))
    with node_of(ctx) as node:
        report = node.insight.whatif(code, change, since=when)
    show_whatif(report, json_out)
