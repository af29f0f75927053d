"""`tearline demo --network`: five nodes (GBR, USA, CAN, AUS, NZL) on 127.0.0.1 sharing with each
other over TAXII 2.1, then three of them scale back one topic with USA.

Each node gets its own synthetic scenario (:func:`tearline.demo.scenario.build_scenario`, one seed
per node) and its own policy (the catalog's profiles for the other four), and is served by a real
``tearline serve`` process on a free port. Every node adds the others as partners and peers with
the tokens they issued. A sync round is, node by node, a push to every peer and a pull from every
peer. After the first rounds GBR, CAN and AUS exclude the scale-back topic for USA, every node adds
new reporting, and the rounds run again.

The demo checks its own flow matrix: what each receiver holds from each sender must equal what the
sender's release pipeline releases to that receiver (before, and before ∪ after, the scale-back),
and nothing of the topic may flow from GBR, CAN or AUS to USA after it. Any mismatch is a failure
(``ok`` false, non-zero exit). Every server process it started is stopped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from tearline.bootstrap import Node, create_node
from tearline.clock import SystemClock
from tearline.crypto.sealing import write_kek_file
from tearline.demo import catalog as cat
from tearline.demo.run import _load
from tearline.demo.scenario import Scenario, ScenarioItem, build_scenario
from tearline.model.labeltext import parse_label
from tearline.model.markings import MarkedItem
from tearline.model.sources import Grade, SourceIdentity
from tearline.services.intake import IngestSummary, Prepared
from tearline.services.sync import Federation
from tearline.services.sync_push import Pusher
from tearline.services.trust import ProfileChange
from tearline.settings import Settings
from tearline.store import nodes
from tearline.store import sync as sync_store

CODES = ("GBR", "USA", "CAN", "AUS", "NZL")
SCALERS = ("GBR", "CAN", "AUS")
TARGET = "USA"
TOPIC = "russia"
GBR_SPEC = ("GBR", "United Kingdom", "TOP SECRET", "AMBER+STRICT", (), 0, False)
APPROVER = "Head of Liaison (network demo)"
Flows = dict[str, dict[str, set[tuple[str, str]]]]  # sender -> receiver -> {(id, version)}


@dataclass
class Member:
    code: str
    node: Node
    federation: Federation
    url: str = ""
    proc: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)  # partner -> token this node issued to it


@dataclass
class NetworkResult:
    ok: bool
    problems: list[str]
    before: dict[str, dict[str, int]]
    after: dict[str, dict[str, int]]
    topic_after: dict[str, dict[str, int]]  # sender -> receiver -> new versions of the topic after the scale-back
    rejections: int
    seconds: float


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (held open together while chosen, so none is picked twice)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def _profile(code: str) -> ProfileChange:
    spec = next((p for p in cat.PARTNERS if p[0] == code), GBR_SPEC)
    return ProfileChange(clearance=spec[2], tlp_ceiling=spec[3], exclude_topics=spec[4],
                         embargo=timedelta(days=spec[5]), sanitised_only=spec[6])


def build_member(root: Path, code: str, seed: int, size: int, now: datetime) -> Member:
    folder = root / code.lower()
    write_kek_file(folder / "vault.kek")
    settings = Settings(data=folder / "data", kek_file=str(folder / "vault.kek"))
    node, _ = create_node(settings, code=code, name=f"{code} node (network demo)", clock=SystemClock())
    scenario = build_scenario(seed=seed, now=now, size=size)
    for src in scenario.sources:
        node.vault.add_source(
            src.cover, SourceIdentity(name=src.true_name, aliases=src.aliases, phones=src.phones, emails=src.emails),
            grade=Grade.parse(src.grade), compartments=src.compartments,
        )
    member = Member(code, node, node.federation())
    for other in CODES:
        if other != code:
            _, token = node.trust.add_partner(other, other, _profile(other), effective_from=now - timedelta(days=800),
                                              approved_by=APPROVER, reason="network demo arrangement")
            member.tokens[other] = token
    _load(node, scenario)
    return member


def add_reporting(member: Member, scenario: Scenario, count: int) -> int:
    """New reporting added now (so pulls see it after their last `added_after`)."""
    with member.node.db.read() as conn:
        shared = nodes.find_collection(conn, "shared")
    assert shared is not None
    items: list[ScenarioItem] = list(scenario.items[:count])
    batch = [Prepared(obj=i.obj, item=MarkedItem(parse_label(i.label))) for i in items]
    summary = IngestSummary()
    member.node.intake.store(batch, collection_id=shared.id, added=member.node.clock.now(), summary=summary)
    return summary.new


@contextmanager
def served(members: list[Member], out: Console) -> Iterator[None]:
    """One `tearline serve` process per node; all stopped on the way out."""
    try:
        for m, port in zip(members, free_ports(len(members)), strict=True):
            env = {**os.environ, "TEARLINE_KEK_FILE": m.node.settings.kek_file}
            m.proc = subprocess.Popen(
                [sys.executable, "-m", "tearline", "--data", str(m.node.settings.data), "serve", "--port", str(port)],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            m.url = f"http://127.0.0.1:{port}/taxii2/"
        for m in members:
            _wait_up(m)
            out.print(f"  {m.code} serving at {m.url} (pid {m.proc.pid if m.proc else '?'})")
        yield
    finally:
        for m in members:
            if m.proc is not None and m.proc.poll() is None:
                m.proc.terminate()
        for m in members:
            if m.proc is not None:
                try:
                    m.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    m.proc.kill()
                    m.proc.wait(timeout=5)


def _wait_up(m: Member, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if m.proc is not None and m.proc.poll() is not None:
            raise RuntimeError(f"the server of {m.code} exited with {m.proc.returncode}")
        try:
            httpx.get(m.url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"the server of {m.code} did not start")


def sync_round(members: list[Member]) -> tuple[int, int]:
    """Every node pushes to and then pulls from every peer; returns (objects moved, rejections)."""
    moved = rejected = 0
    for direction in ("push", "pull"):
        for m in members:
            for r in m.federation.run(direction):
                if r.error:
                    raise RuntimeError(f"{m.code} {direction} with {r.peer} failed: {r.error}")
                moved += r.objects
                rejected += r.rejected
    return moved, rejected


def flows(members: list[Member]) -> Flows:
    """What each receiver holds from each sender: distinct (id, version) in the sender's inbox."""
    out: Flows = {m.code: {} for m in members}
    for r in members:
        with r.node.db.read() as conn:
            for s in members:
                if s.code == r.code:
                    continue
                inbox = nodes.inbox_of(conn, s.code)
                assert inbox is not None
                out[s.code][r.code] = sync_store.versions_in(conn, inbox.id)
    return out


def expected(members: list[Member]) -> Flows:
    """What each sender's pipeline releases to each receiver now (not recorded)."""
    out: Flows = {}
    for s in members:
        pusher = Pusher(s.node.db, s.node.clock, s.node.decisions, s.node.release)
        out[s.code] = {r.code: {(o.stix_id, o.version) for o in pusher.releasable(r.code)}
                       for r in members if r.code != s.code}
    return out


def _topic_ids(member: Member, topic: str) -> set[tuple[str, str]]:
    with member.node.db.read() as conn:
        return sync_store.versions_with_topic(conn, topic)


def _matrix(title: str, counts: dict[str, dict[str, int]]) -> Table:
    t = Table(title=title)
    t.add_column("from \\ to")
    for c in CODES:
        t.add_column(c, justify="right")
    for s in CODES:
        t.add_row(s, *("—" if s == r else str(counts[s].get(r, 0)) for r in CODES))
    return t


def run_network(out_dir: Path, console: Console, *, size: int = 500, new_items: int = 150) -> NetworkResult:
    started = time.perf_counter()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    now = SystemClock().now()
    console.print(f"[bold]network demo[/]: five nodes in {out_dir}")
    members = [build_member(out_dir, code, seed=11 + i, size=size, now=now) for i, code in enumerate(CODES)]
    problems: list[str] = []
    try:
        with served(members, console):
            for m in members:
                for other in members:
                    if other.code != m.code:
                        m.federation.peers.add(other.code, other.url, other.tokens[m.code])
            moved, rejected = sync_round(members)
            again, rej2 = sync_round(members)
            console.print(f"first rounds: {moved} versions moved, then {again} (settled); {rejected + rej2} refused")
            flows1, exp1 = flows(members), expected(members)
            problems += _compare(flows1, exp1, "before the scale-back")
            before = _counts(flows1)
            console.print(_matrix("flow matrix before the scale-back (object versions)", before))

            for code in SCALERS:
                m = next(x for x in members if x.code == code)
                m.node.trust.change(TARGET, ProfileChange(exclude_topics=(TOPIC,)), approved_by=APPROVER,
                                    reason=f"scale back {TOPIC} with {TARGET} (network demo)", narrowing_only=True)
            console.print(f"\n{', '.join(SCALERS)} stop sharing [bold]{TOPIC}[/] with {TARGET}")
            for i, m in enumerate(members):
                add_reporting(m, build_scenario(seed=101 + i, now=SystemClock().now(), size=500), new_items)
            moved3, rej3 = sync_round(members)
            moved4, rej4 = sync_round(members)
            console.print(f"after: {moved3} versions moved, then {moved4} (settled); {rej3 + rej4} refused")
            flows2, exp2 = flows(members), expected(members)
            union = {s: {r: exp1[s][r] | exp2[s][r] for r in exp1[s]} for s in exp1}
            problems += _compare(flows2, union, "after the scale-back")
            after = _counts(flows2)
            console.print(_matrix("flow matrix after the scale-back (object versions, in total)", after))
            topic_after: dict[str, dict[str, int]] = {}
            for s in members:
                tagged = _topic_ids(s, TOPIC)
                topic_after[s.code] = {r: len((flows2[s.code][r] - flows1[s.code][r]) & tagged)
                                       for r in flows2[s.code]}
            console.print(_matrix(f"new {TOPIC} versions after the scale-back", topic_after))
            for code in SCALERS:
                if topic_after[code][TARGET]:
                    n = topic_after[code][TARGET]
                    problems.append(f"{code} sent {n} {TOPIC} versions to {TARGET} after scaling back")
            if not any(topic_after[c][TARGET] for c in CODES if c not in SCALERS and c != TARGET):
                problems.append(f"no {TOPIC} reached {TARGET} from a node that did not scale back: the check is empty")
        rejections = 0
        for m in members:
            with m.node.db.read() as conn:
                rejections += len(sync_store.rejections(conn))
    finally:
        for m in members:
            m.node.close()
    for p in problems:
        console.print(f"[bold red]check failed:[/] {p}")
    if not problems:
        console.print("[bold green]checks passed[/]: every flow equals what the sender's pipeline releases; "
                      f"nothing of {TOPIC} flowed from {', '.join(SCALERS)} to {TARGET} after the scale-back")
    return NetworkResult(not problems, problems, before, after, topic_after, rejections,
                         time.perf_counter() - started)


def _counts(f: Flows) -> dict[str, dict[str, int]]:
    return {s: {r: len(v) for r, v in row.items()} for s, row in f.items()}


def _compare(got: Flows, want: Flows, when: str) -> list[str]:
    out = []
    for s, row in want.items():
        for r, exp in row.items():
            have = got[s][r]
            if have != exp:
                out.append(f"{s} -> {r} {when}: {len(have - exp)} versions not released by {s}'s pipeline, "
                           f"{len(exp - have)} released but missing")
    return out
