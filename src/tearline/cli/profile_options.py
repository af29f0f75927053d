"""A proposed trust-profile change on the command line: the options that describe it, the
`ProfileChange` they make, and the what-if report that shows its effect.

Shared by `partner` (add, set, scale-back) and `whatif`, which import it rather than each other.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from tearline.cli.common import bad_option, out
from tearline.clock import parse_duration
from tearline.policy.whatif import WhatIfReport
from tearline.services.trust import ProfileChange

Clearance = Annotated[str | None, typer.Option(help="highest classification, e.g. SECRET")]
TlpCeiling = Annotated[str | None, typer.Option(help="highest TLP, e.g. AMBER")]
Exclude = Annotated[list[str] | None, typer.Option("--exclude-topic", help="a topic never released (repeatable)")]
Include = Annotated[list[str] | None, typer.Option("--include-topic", help="lift a topic exclusion (repeatable)")]
Embargo = Annotated[str | None, typer.Option(help="release versions only this long after they were added, e.g. 7d")]
Sanitised = Annotated[
    bool | None, typer.Option("--sanitised-only/--not-sanitised-only", help="always the tearline version")
]
Suspend = Annotated[bool | None, typer.Option("--suspend/--resume", help="suspend or resume all releases")]
Fingerprint = Annotated[
    str | None, typer.Option("--fingerprint", metavar="on|off", help="per-recipient fingerprints (docs/trace.md)")
]


def profile_change(
    clearance: str | None,
    tlp_ceiling: str | None,
    exclude: list[str] | None,
    include: list[str] | None,
    embargo: str | None,
    sanitised: bool | None,
    suspend: bool | None,
    fingerprint: str | None = None,
) -> ProfileChange:
    """The change the profile options ask for; a bad duration is an invalid-input error."""
    try:
        emb = parse_duration(embargo) if embargo is not None else None
    except ValueError as exc:
        bad_option(str(exc))
        raise
    fp: bool | None = None
    if fingerprint is not None:
        if fingerprint.strip().lower() not in ("on", "off"):
            bad_option(f"--fingerprint takes `on` or `off`, not `{fingerprint}`")
        fp = fingerprint.strip().lower() == "on"
    return ProfileChange(
        clearance=clearance,
        tlp_ceiling=tlp_ceiling,
        exclude_topics=tuple(exclude or ()),
        include_topics=tuple(include or ()),
        embargo=emb,
        sanitised_only=sanitised,
        suspended=suspend,
        fingerprint=fp,
    )


def show_whatif(report: WhatIfReport, json_out: bool) -> None:
    """Print a what-if report: JSON (docs/policy.md) or tables."""
    if json_out:
        sys.stdout.write(report.to_json(seq_limit=1000) + "\n")
        return
    d = report.to_dict(seq_limit=0)
    out.print(f"what-if for [bold]{report.partner}[/] over {report.versions} versions"
              + (f" since {d['since']}" if d["since"] else ""))
    table = Table(title="verdicts before → after")
    for col in ("verdict", "before", "after"):
        table.add_column(col)
    for v in ("RELEASE", "RELEASE_TEARLINE", "HOLD", "WITHHOLD"):
        table.add_row(v, str(report.before.get(v, 0)), str(report.after.get(v, 0)))
    out.print(table)
    out.print(f"{len(report.changed_seq)} versions change verdict")
    for title, data in (("by topic", report.by_topic), ("by classification", report.by_classification),
                        ("by TLP", report.by_tlp), ("by month", report.by_month)):
        if not data:
            continue
        t = Table(title=f"changed {title}")
        t.add_column(title.split()[-1])
        t.add_column("changes")
        for k in sorted(data):
            t.add_row(k, ", ".join(f"{tr} {n}" for tr, n in sorted(data[k].items())))
        out.print(t)
