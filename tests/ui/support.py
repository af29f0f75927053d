"""A demo node made richer for the UI (releases over 30 days, objects received from partners, an
approval, a gate alert, operators of each role) and the app that serves it under ``/ui``.

Shared by the UI tests and ``bench/ui.py``.
"""

from __future__ import annotations

import io
import os
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from starlette.applications import Starlette
from starlette.routing import Mount

from tearline.bootstrap import Node, open_node
from tearline.demo.run import run_demo
from tearline.model.markings import Label, MarkedItem, Tlp
from tearline.services.intake import IngestSummary, Prepared
from tearline.services.users import Role
from tearline.settings import load_settings
from tearline.store import nodes
from tearline.store import objects as objects_store
from tearline.store import releases as releases_store
from tearline.web.ui import create_ui

PASSWORDS = {"ada": "admin-password-1", "olive": "officer-password-1", "vic": "viewer-password-1"}
ROLES = {"ada": Role.ADMIN, "olive": Role.OFFICER, "vic": Role.VIEWER}
REPO = Path(__file__).resolve().parents[2]


@dataclass
class UiNode:
    node: Node
    cited_report: str  # a report that cites a protected source: partners receive it differently
    alert_object: str


def build(data: Path, *, size: int = 3000) -> UiNode:
    settings = load_settings({"data": str(data)}, environ={})
    run_demo(settings, Console(file=io.StringIO()), size=size)
    node = open_node(settings, clock=None)
    cited = _cited_report(node)
    _releases(node)
    _received(node)
    alert = _alert(node)
    _approval(node)
    for name, password in PASSWORDS.items():
        node_users(node).add(name, ROLES[name], password)
    return UiNode(node, cited, alert)


def node_users(node: Node):  # type: ignore[no-untyped-def]
    from tearline.services.users import Users

    return Users(node.db, node.clock)


def make_app(node: Node) -> Starlette:
    """The UI as the node's web app mounts it."""
    return Starlette(routes=[Mount("/ui", app=create_ui(node.ui_deps()))])


def _cited_report(node: Node) -> str:
    with node.db.read() as conn:
        rows = [r for r in objects_store.iter_bodies(conn) if b"{{source:" in r.body]  # type: ignore[attr-defined]
    ids = sorted({r.stix_id for r in rows})  # type: ignore[attr-defined]
    partners = [p.code for p in node.trust.partners()]

    def spread(sid: str) -> tuple[int, int]:
        verdicts = {node.insight.preview(p, sid).verdict.name for p in partners}
        return len(verdicts), sum(node.insight.preview(p, sid).body is not None for p in partners)

    return max(ids[:40], key=spread)


def _releases(node: Node) -> None:
    """Export-channel releases on each of the last 30 days (a few objects per partner per day)."""
    now = node.clock.now()
    cols, _ = node.decisions.columns()
    for i, p in enumerate(node.trust.partners()):
        view = node.decisions.view(p.code)
        seqs = [int(s) for s, a in zip(cols.seq.tolist(), cols.added_us.tolist(), strict=True)
                if view.released(int(s), int(a))]
        with node.db.read() as conn:
            rows = objects_store.rows_by_seq(conn, seqs[: 30 * 4])
        for day in range(30):
            chunk = rows[day * 4 : day * 4 + 4 - (day + i) % 3]
            if chunk:
                at = now - timedelta(days=29 - day, hours=1)
                node.release.release(p.code, chunk, channel="export", at=at)


def _received(node: Node) -> None:
    """Indicators posted by partners into their inboxes over the last 30 days."""
    now = node.clock.now()
    for i, p in enumerate(node.trust.partners()):
        with node.db.read() as conn:
            inbox = nodes.find_collection(conn, f"inbox-{p.code.lower()}")
        assert inbox is not None
        batch, times = [], []
        for day in range(0, 30, 1 + i % 3):
            for k in range(1 + (day + i) % 4):
                at = now - timedelta(days=29 - day, hours=2 + k)
                stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
                obj = {
                    "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
                    "created": stamp, "modified": stamp, "name": f"{p.code} shared indicator {day}-{k}",
                    "pattern": f"[ipv4-addr:value = '198.51.100.{(day * 4 + k) % 250}']",
                    "pattern_type": "stix", "valid_from": stamp,
                }
                label = Label(tlp=Tlp.GREEN, originator=p.code, topics=frozenset({"shared"}))
                batch.append(Prepared(obj=obj, item=MarkedItem(label)))
                times.append(at)
        node.intake.store(batch, collection_id=inbox.id, added=times, summary=IngestSummary(), posted_by=p.code)


def _alert(node: Node) -> str:
    """A gate alert as the gate stage records it (its own test lives with the gate)."""
    _, ids = node.decisions.columns()
    stix_id = ids[-1]
    at = node.clock.now() - timedelta(hours=3)
    with node.db.write() as conn:
        releases_store.add_alert(conn, at_us=int(at.timestamp() * 1_000_000), partner="FRA", stix_id=stix_id,
                                 version="2026-01-01T00:00:00.000Z", field="$.description", channel="taxii")
        node.ledger.alert(conn, time=at, partner="FRA", object_id=stix_id, version="2026-01-01T00:00:00.000Z",
                          field="$.description")
    return stix_id


def _approval(node: Node) -> None:
    view = node.decisions.view("CAN")
    cols, ids = node.decisions.columns()
    held = [ids[i] for i, s in enumerate(cols.seq.tolist()) if view.verdict(int(s)) == 2]
    if held:
        node.approvals.approve(held[0], "CAN", by="Head of Liaison", reason="agreed with the originator")


def artefacts() -> Path:
    """Where the browser tests put their screenshots: ``$TEARLINE_ARTEFACTS/ui`` or ``artefacts/ui``."""
    path = Path(os.environ.get("TEARLINE_ARTEFACTS") or REPO / "artefacts") / "ui"
    path.mkdir(parents=True, exist_ok=True)
    return path
