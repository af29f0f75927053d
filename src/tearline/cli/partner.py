"""`partner add|set|scale-back|restore|history|list|show|token`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from tearline.canonical import format_timestamp
from tearline.cli.common import bad_option, node_of, out, print_json
from tearline.cli.profile_options import (
    Clearance,
    Embargo,
    Exclude,
    Fingerprint,
    Include,
    Sanitised,
    Suspend,
    TlpCeiling,
    profile_change,
    show_whatif,
)
from tearline.clock import format_duration, parse_time
from tearline.model.markings import DEFAULT_SCHEME
from tearline.model.partners import ProfileVersion

app = typer.Typer(help="Partners and their trust profiles.", no_args_is_help=True)

Effective = Annotated[str | None, typer.Option(help="when the version takes effect (ISO 8601; default now)")]
Reason = Annotated[str, typer.Option(help="the reason recorded with this change")]
ApprovedBy = Annotated[str, typer.Option("--approved-by", help="who approved this change, recorded with it")]
JsonOut = Annotated[bool, typer.Option("--json", help="print JSON")]


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        bad_option(str(exc))


def profile_json(pv: ProfileVersion) -> dict[str, object]:
    p = pv.profile
    return {
        "partner": pv.partner,
        "version": pv.version,
        "clearance": DEFAULT_SCHEME.name(p.clearance),
        "tlp_ceiling": p.tlp_ceiling.text,
        "excluded_topics": sorted(p.excluded_topics),
        "embargo": format_duration(p.embargo),
        "sanitised_only": p.sanitised_only,
        "suspended": p.suspended,
        "fingerprint": p.fingerprint,
        "effective_from": format_timestamp(pv.effective_from),
        "created": format_timestamp(pv.created_at),
        "reason": pv.reason,
        "approved_by": pv.approved_by,
    }


@app.command("add")
def add(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="ISO 3166 alpha-3 or an organisation code")],
    name: Annotated[str, typer.Option(help="the partner's name")],
    clearance: Clearance = None,
    tlp_ceiling: TlpCeiling = None,
    exclude_topic: Exclude = None,
    embargo: Embargo = None,
    sanitised_only: Sanitised = None,
    suspend: Suspend = None,
    fingerprint: Fingerprint = None,
    effective_from: Effective = None,
    json_out: JsonOut = False,
) -> None:
    """Add a partner; prints its API token once (only a hash is kept)."""
    change = profile_change(clearance, tlp_ceiling, exclude_topic, None, embargo, sanitised_only, suspend, fingerprint)
    with node_of(ctx) as node:
        partner, token = node.trust.add_partner(code, name, change, effective_from=_when(effective_from))
    if json_out:
        print_json({"code": partner.code, "token": token})
    else:
        out.print(f"partner [bold]{partner.code}[/] added; its API token (shown once):")
        out.print(token, markup=False)


@app.command("set")
def set_(
    ctx: typer.Context,
    code: str,
    reason: Reason,
    approved_by: ApprovedBy,
    clearance: Clearance = None,
    tlp_ceiling: TlpCeiling = None,
    exclude_topic: Exclude = None,
    include_topic: Include = None,
    embargo: Embargo = None,
    sanitised_only: Sanitised = None,
    suspend: Suspend = None,
    fingerprint: Fingerprint = None,
    effective_from: Effective = None,
    json_out: JsonOut = False,
) -> None:
    """Make a new profile version (any change)."""
    change = profile_change(
        clearance, tlp_ceiling, exclude_topic, include_topic, embargo, sanitised_only, suspend, fingerprint
    )
    with node_of(ctx) as node:
        pv = node.trust.change(
            code, change, reason=reason, approved_by=approved_by, effective_from=_when(effective_from)
        )
    _show_version(pv, json_out)


@app.command("scale-back")
def scale_back(
    ctx: typer.Context,
    code: str,
    reason: Reason,
    approved_by: ApprovedBy,
    clearance: Clearance = None,
    tlp_ceiling: TlpCeiling = None,
    exclude_topic: Exclude = None,
    embargo: Embargo = None,
    sanitised_only: Annotated[bool | None, typer.Option("--sanitised-only", help="always the tearline version")] = None,
    suspend: Annotated[bool | None, typer.Option("--suspend", help="suspend all releases")] = None,
    effective_from: Effective = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the what-if report; change nothing")] = False,
    json_out: JsonOut = False,
) -> None:
    """Narrow what a partner receives; refuses any option that would widen it."""
    change = profile_change(clearance, tlp_ceiling, exclude_topic, None, embargo, sanitised_only, suspend)
    with node_of(ctx) as node:
        if dry_run:
            node.trust.check_narrowing(code, change)
            show_whatif(node.insight.whatif(code, change), json_out)
            return
        pv = node.trust.change(
            code,
            change,
            reason=reason,
            approved_by=approved_by,
            effective_from=_when(effective_from),
            narrowing_only=True,
        )
    _show_version(pv, json_out)


@app.command("restore")
def restore(
    ctx: typer.Context,
    code: str,
    to_version: Annotated[int, typer.Option("--to-version", help="the profile version to bring back")],
    reason: Reason,
    approved_by: ApprovedBy,
    json_out: JsonOut = False,
) -> None:
    """Bring back an earlier profile version (as a new version; history stays)."""
    with node_of(ctx) as node:
        pv = node.trust.restore(code, to_version, reason=reason, approved_by=approved_by)
    _show_version(pv, json_out)


@app.command("history")
def history(ctx: typer.Context, code: str, json_out: JsonOut = False) -> None:
    """Every profile version of a partner, oldest first."""
    with node_of(ctx) as node:
        versions = node.trust.history(code)
    if json_out:
        print_json([profile_json(pv) for pv in versions])
        return
    table = Table(title=f"profile history of {versions[0].partner}")
    for col in ("v", "effective from", "clearance", "tlp", "excluded", "embargo", "flags", "reason", "approved by"):
        table.add_column(col)
    for pv in versions:
        j = profile_json(pv)
        flags = ",".join(f for f in ("sanitised" if pv.profile.sanitised_only else "",
                                      "suspended" if pv.profile.suspended else "",
                                      "" if pv.profile.fingerprint else "no-fingerprint") if f)
        table.add_row(str(pv.version), str(j["effective_from"]), str(j["clearance"]), str(j["tlp_ceiling"]),
                      ", ".join(sorted(pv.profile.excluded_topics)) or "-", str(j["embargo"]), flags or "-",
                      pv.reason, pv.approved_by)
    out.print(table)


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOut = False) -> None:
    """Partners with the profile in force now."""
    with node_of(ctx) as node:
        rows = [(p, node.trust.in_force(p.code)) for p in node.trust.partners()]
    if json_out:
        print_json([{"code": p.code, "name": p.name, "profile": profile_json(pv)} for p, pv in rows])
        return
    table = Table(title="partners")
    for col in ("code", "name", "v", "clearance", "tlp", "excluded", "embargo", "state"):
        table.add_column(col)
    for p, pv in rows:
        pr = pv.profile
        state = "suspended" if pr.suspended else ("sanitised only" if pr.sanitised_only else "active")
        table.add_row(p.code, p.name, str(pv.version), DEFAULT_SCHEME.name(pr.clearance), pr.tlp_ceiling.text,
                      ", ".join(sorted(pr.excluded_topics)) or "-", format_duration(pr.embargo), state)
    out.print(table)


@app.command("show")
def show(ctx: typer.Context, code: str, json_out: JsonOut = False) -> None:
    """One partner and the profile in force now."""
    with node_of(ctx) as node:
        p = node.trust.get(code)
        pv = node.trust.in_force(p.code)
    data = {"code": p.code, "name": p.name, "created": format_timestamp(p.created_at), "profile": profile_json(pv)}
    if json_out:
        print_json(data)
    else:
        _show_version(pv, False, title=f"{p.code} ({p.name})")


@app.command("token")
def token(ctx: typer.Context, code: str, json_out: JsonOut = False) -> None:
    """Rotate a partner's API token; prints the new one once."""
    with node_of(ctx) as node:
        tok = node.trust.rotate_token(code)
    if json_out:
        print_json({"code": code.upper(), "token": tok})
    else:
        out.print(tok, markup=False)


def _show_version(pv: ProfileVersion, json_out: bool, title: str | None = None) -> None:
    j = profile_json(pv)
    if json_out:
        print_json(j)
        return
    table = Table(title=title or f"{pv.partner} profile version {pv.version}", show_header=False)
    table.add_column("field")
    table.add_column("value")
    for k, v in j.items():
        table.add_row(k, ", ".join(v) if isinstance(v, list) else str(v))
    out.print(table)
