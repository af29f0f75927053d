"""`tearline demo`: a UK node sharing with Five Eyes and other partners, then a scale-back.

Builds the synthetic scenario of :mod:`tearline.demo.scenario` into a fresh node (no network, no
files from elsewhere), shows what each partner may receive, runs a what-if for one scale-back,
applies it, and shows the difference. The node it leaves can be served with `tearline serve`.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tearline.bootstrap import Node, create_node
from tearline.clock import SystemClock
from tearline.demo.scenario import Scenario, build_scenario
from tearline.errors import ConfigError
from tearline.model.labeltext import parse_label
from tearline.model.sources import Grade, SourceIdentity
from tearline.services.intake import IngestSummary, Prepared
from tearline.services.prepare import label_object
from tearline.services.trust import ProfileChange
from tearline.settings import Settings
from tearline.store import nodes

DEMO_MARK = "demo"
APPROVER = "Head of Liaison (demo)"


@dataclass(frozen=True)
class DemoResult:
    data: Path
    partners: tuple[str, ...]
    before: dict[str, dict[str, int]]  # partner -> verdict -> versions
    after: dict[str, dict[str, int]]
    scale_back: tuple[str, str]
    whatif_changed: int
    versions: int
    seconds: float


def _prepare_folder(settings: Settings) -> None:
    data = settings.data
    if settings.db:
        _refuse_used_database(settings)
        return
    if not data.exists():
        return
    db_file = data / "tearline.db"
    if not db_file.exists() and not any(data.iterdir()):
        return
    from tearline.store.engine import Database

    if db_file.exists():
        db = Database(settings.db_url)
        try:
            with db.read() as conn:
                meta = nodes.get_meta(conn)
        except Exception:
            meta = {}
        finally:
            db.dispose()
        if meta.get(DEMO_MARK) != "1":
            raise ConfigError(f"`{data}` holds a node that is not a demo node; choose another folder with --out")
        shutil.rmtree(data)
        return
    raise ConfigError(f"`{data}` is not empty and holds no demo node; choose another folder with --out")


def _refuse_used_database(settings: Settings) -> None:
    """The demo may build into an external database only while it holds no node."""
    from tearline.store.engine import Database

    db = Database(settings.db_url)
    try:
        current, _ = db.schema_state()
        if current is not None:
            with db.read() as conn:
                if nodes.get_meta(conn).get("code"):
                    raise ConfigError("the database already holds a node; the demo needs an empty one")
    finally:
        db.dispose()


def _counts(node: Node, partners: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for code in partners:
        view = node.decisions.view(code)
        cols, _ = node.decisions.columns()
        counts = {"RELEASE": 0, "RELEASE_TEARLINE": 0, "HOLD": 0, "WITHHOLD": 0}
        for seq, added in zip(cols.seq.tolist(), cols.added_us.tolist(), strict=True):
            v = view.verdict(seq)
            if v in (0, 1) and not view.released(seq, added):
                counts["HOLD"] += 1  # embargoed
            else:
                counts[("RELEASE", "RELEASE_TEARLINE", "HOLD", "WITHHOLD")[min(v, 3)]] += 1
        out[code] = counts
    return out


def _table(title: str, counts: dict[str, dict[str, int]], other: dict[str, dict[str, int]] | None = None) -> Table:
    t = Table(title=title)
    t.add_column("partner")
    for col in ("release", "tearline", "hold", "withhold"):
        t.add_column(col, justify="right")
    for code, c in counts.items():
        cells = []
        for key in ("RELEASE", "RELEASE_TEARLINE", "HOLD", "WITHHOLD"):
            v = c[key]
            if other is not None and other[code][key] != v:
                d = v - other[code][key]
                cells.append(f"[bold]{v}[/] ({d:+d})")
            else:
                cells.append(str(v))
        t.add_row(code, *cells)
    return t


def run_demo(settings: Settings, console: Console, *, seed: int = 7, size: int = 3000) -> DemoResult:
    started = time.perf_counter()
    _prepare_folder(settings)
    clock = SystemClock()
    now = clock.now()
    scenario: Scenario = build_scenario(seed=seed, now=now, size=size)
    kek_path = _demo_kek(settings)
    node, _ = create_node(settings, code=scenario.node_code, name=scenario.node_name, clock=clock)
    try:
        with node.db.write() as conn:
            nodes.set_meta(conn, {DEMO_MARK: "1"})
        console.print(f"[bold]{scenario.node_name}[/] ({scenario.node_code}) in {settings.data}")
        for src in scenario.sources:
            node.vault.add_source(
                src.cover,
                SourceIdentity(name=src.true_name, aliases=src.aliases, phones=src.phones, emails=src.emails),
                grade=Grade.parse(src.grade),
                compartments=src.compartments,
            )
        console.print(
            f"{len(scenario.sources)} human sources in the encrypted vault (key-encryption key: {kek_path}); "
            "reports cite them only by cover-name tokens"
        )
        since = now - timedelta(days=800)
        for p in scenario.partners:
            node.trust.add_partner(
                p.code,
                p.name,
                ProfileChange(
                    clearance=p.clearance,
                    tlp_ceiling=p.tlp_ceiling,
                    exclude_topics=p.excluded_topics,
                    embargo=timedelta(days=p.embargo_days),
                    sanitised_only=p.sanitised_only,
                ),
                effective_from=since,
                approved_by=APPROVER,
                reason="initial sharing arrangement",
            )
        summary = _load(node, scenario)
        console.print(
            f"ingested {summary.new} object versions ({len({i.obj['id'] for i in scenario.items})} objects) "
            f"over two years; {len(scenario.sources)} protected sources cited by reports"
        )
        partners = [p.code for p in scenario.partners]
        before = _counts(node, partners)
        console.print(_table("what each partner may receive now (object versions)", before))

        code, topic = scenario.scale_back
        change = ProfileChange(exclude_topics=(topic,))
        report = node.insight.whatif(code, change)
        console.print(
            f"\nwhat-if: stop sharing [bold]{topic}[/] with [bold]{code}[/]: "
            f"{len(report.changed_seq)} of {report.versions} versions would change verdict"
        )
        for tr, n in sorted(report.transitions.items()):
            console.print(f"  {tr}: {n}")
        node.trust.change(
            code,
            change,
            reason=f"scale back {topic} reporting pending review",
            approved_by=APPROVER,
            narrowing_only=True,
        )
        after = _counts(node, partners)
        console.print(_table(f"after scaling back {topic} for {code}", after, before))
        _show_source_protection(node, scenario, console)
        console.print(f"\nserve it: tearline --data {settings.data} serve")
        return DemoResult(
            data=settings.data,
            partners=tuple(partners),
            before=before,
            after=after,
            scale_back=(code, topic),
            whatif_changed=len(report.changed_seq),
            versions=summary.new,
            seconds=time.perf_counter() - started,
        )
    finally:
        node.close()


def _demo_kek(settings: Settings) -> Path:
    """The demo's vault key: made once and reused; kept in the user's key folder (outside the working
    tree, where `git add .` would pick it up), or beside the data folder where an earlier demo left
    it there."""
    from tearline.bootstrap import default_kek_path, user_kek_path
    from tearline.crypto.sealing import write_kek_file

    if settings.kek_file or settings.kek:
        return Path(settings.kek_file or "TEARLINE_KEK")
    beside = default_kek_path(settings)
    if beside.exists():
        return beside
    path = user_kek_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_kek_file(path, data=settings.data)
    return path


def _show_source_protection(node: Node, scenario: Scenario, console: Console) -> None:
    """One report that cites a source, as a cleared partner and as a sanitised-only partner see it."""
    import re

    from tearline.canonical import loads

    citing = [i for i in scenario.items if "{{source:" in str(i.obj.get("description", ""))]
    if not citing:
        return
    # the citing report that reaches the most partners
    best = max(citing, key=lambda i: sum(node.insight.preview(p.code, i.obj["id"]).body is not None
                                         for p in scenario.partners))
    stix_id = best.obj["id"]
    console.print(f"\n[bold]source protection[/]: report {stix_id} cites a protected source")
    table = Table()
    table.add_column("partner")
    table.add_column("verdict")
    table.add_column("what it reads")
    for p in scenario.partners:
        outcome = node.insight.preview(p.code, stix_id)
        if outcome.body is None:
            table.add_row(p.code, outcome.verdict.name, ", ".join(outcome.reasons[:2]))
            continue
        text = str(loads(outcome.body).get("description", ""))
        m = re.search(r"a source( graded [A-F][1-6])?", text)
        snippet = " ".join((text[max(0, m.start() - 20) : m.end() + 25] if m else text[:60]).split())
        table.add_row(p.code, outcome.verdict.name, f"…{snippet}…")
    console.print(table)


def _load(node: Node, scenario: Scenario) -> IngestSummary:
    summary = IngestSummary()
    with node.db.read() as conn:
        shared = nodes.find_collection(conn, "shared")
    assert shared is not None
    batch: list[Prepared] = []
    times: list[datetime] = []
    for item in scenario.items:
        label = parse_label(item.label)
        batch.append(Prepared(obj=item.obj, item=label_object(item.obj, {}, label)))
        times.append(item.added)
        if len(batch) >= 1000:
            node.intake.store(batch, collection_id=shared.id, added=times, summary=summary)
            batch, times = [], []
    if batch:
        node.intake.store(batch, collection_id=shared.id, added=times, summary=summary)
    return summary
