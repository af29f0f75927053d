"""Composition root: settings → database → services. Only this module wires concrete stores."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection

from tearline.clock import Clock, SystemClock
from tearline.crypto.keys import fingerprint_key, load_cursor_key, session_secret
from tearline.crypto.sealing import load_kek
from tearline.fingerprint.code import Code
from tearline.fingerprint.leak import read_leak
from tearline.ids import IdFactory, RandomIds
from tearline.services.approvals import Approvals
from tearline.services.decisions import Decisions
from tearline.services.export import Exporter
from tearline.services.fingerprints import Fingerprints
from tearline.services.gate import Gate
from tearline.services.inbox import Inbox
from tearline.services.intake import Intake
from tearline.services.ledger import Ledger
from tearline.services.markings import MarkingRegistry
from tearline.services.node import NodeInfo, init_node, read_node
from tearline.services.psi import Budget
from tearline.services.psi_client import PsiQuerier
from tearline.services.psi_serve import PsiServer
from tearline.services.release import ReleasePipeline
from tearline.services.sync import Federation, Peers
from tearline.services.sync_pull import Puller
from tearline.services.sync_push import Pusher
from tearline.services.taxii import Config as TaxiiConfig
from tearline.services.taxii import TaxiiService
from tearline.services.trace import MAX_FALSE, Tracer, TraceResult
from tearline.services.trust import Trust
from tearline.services.ui_deps import Reports, UiDeps
from tearline.services.users import Users
from tearline.services.vault import Vault, vault_object_check
from tearline.services.whatif import Insight
from tearline.settings import Settings
from tearline.store.engine import Database
from tearline.store.nodes import EpochProbe


@dataclass
class Node:
    """A running node's services."""

    settings: Settings
    db: Database
    clock: Clock
    info: NodeInfo
    ids: IdFactory = field(default_factory=RandomIds)
    intake: Intake = field(init=False)
    trust: Trust = field(init=False)
    ledger: Ledger = field(init=False)
    decisions: Decisions = field(init=False)
    approvals: Approvals = field(init=False)
    vault: Vault = field(init=False)
    gate: Gate = field(init=False)
    markings: MarkingRegistry = field(init=False)
    release: ReleasePipeline = field(init=False)
    insight: Insight = field(init=False)

    def __post_init__(self) -> None:
        self.ledger = Ledger(self.db, self.clock, self.info.code, keys_dir(self.settings))
        self.decisions = Decisions(self.db, self.clock)
        self.trust = Trust(self.db, self.clock, on_profile=self.decisions.on_profile, ledger=self.ledger, ids=self.ids)
        self.intake = Intake(self.db, self.clock, on_stored=self.decisions.on_stored)
        self.approvals = Approvals(self.db, self.clock, self.decisions, self.ledger)
        self.vault = Vault(
            self.db,
            self.clock,
            kek=lambda: load_kek(kek_file=kek_file(self.settings), kek=self.settings.kek, data=self.settings.data),
            on_reveal=[self._record_reveal],
            ids=self.ids,
        )
        self.intake.object_checks.append(vault_object_check(self.vault))
        self.gate = Gate(
            self.vault.protected_terms,
            lambda: repr(self.vault.terms_version()),
            epoch=EpochProbe(self.db).read,
        )
        self.markings = MarkingRegistry(self.db, self.info)
        self.release = ReleasePipeline(
            self.db,
            self.clock,
            self.info,
            self.ledger,
            decisions=self.decisions,
            gate=self.gate,
            sources=lambda show: self.vault.source_text(show_grade=show),
            markings=self.markings,
            fingerprints=Fingerprints(Code(fingerprint_key(self.keys_dir))),
        )
        self.insight = Insight(self.db, self.clock, self.trust, self.decisions, self.release)

    # -- what the edges are given (never the node itself) ------------------------------------------
    def taxii_service(self, config: TaxiiConfig | None = None) -> TaxiiService:
        """The TAXII read side and inboxes over this node's services (one per app)."""
        cfg = config or TaxiiConfig(page_limit=self.settings.page_limit, max_body_bytes=self.settings.max_body_bytes)
        inbox = Inbox(self.db, self.clock, self.info, self.intake, self.markings, self.ids)
        return TaxiiService(
            cfg, db=self.db, clock=self.clock, info=self.info, decisions=self.decisions, gate=self.gate,
            release=self.release, inbox=inbox, cursor_key=load_cursor_key(self.keys_dir),
        )

    def ui_deps(self, *, secure_cookies: bool = False) -> UiDeps:
        """The services the web UI calls; vault summaries only, never identities."""
        reports = Reports(self.db)
        return UiDeps(
            node_code=self.info.code,
            node_name=self.info.name,
            clock=self.clock,
            trust=self.trust,
            insight=self.insight,
            decisions=self.decisions,
            ledger=self.ledger,
            approvals=self.approvals,
            reports=reports,
            users=Users(self.db, self.clock),
            vault_summaries=reports.vault_summaries,
            session_secret=session_secret(self.keys_dir),
            trace=self._trace_files,
            secure_cookies=secure_cookies,
        )

    def psi_server(self) -> PsiServer:
        """Answers partners' PSI queries under the per-partner budget (docs/psi.md)."""
        return PsiServer(self.db, self.clock, self.release, self.ledger, Budget(
            queries_per_day=self.settings.psi_queries_per_day, max_total_items=self.settings.psi_items_per_day,
            min_query_size=self.settings.psi_min_query))

    def psi_querier(self) -> PsiQuerier:
        """Asks a registered peer for a PSI (``tearline psi query``)."""
        return PsiQuerier(self.db, self.clock, Peers(self.db, self.clock, self.vault), self.ledger)

    def _trace_files(self, files: list[tuple[str, bytes]]) -> TraceResult:
        return self.tracer().trace([read_leak(data, name) for name, data in files])

    def tracer(self, *, max_false: float = MAX_FALSE) -> Tracer:
        """Trace leaked copies to the partners who received them (docs/trace.md)."""
        return Tracer(self.db, self.release.fingerprints.code, self.ledger, max_false=max_false)

    def exporter(self) -> Exporter:
        """STIX bundles of what one partner may receive, through the release pipeline."""
        return Exporter(self.db, self.trust, self.decisions, self.release, self.ids)

    def federation(self, *, stop: threading.Event | None = None) -> Federation:
        """Pull from and push to peers. ``stop`` (the background sync's) ends a pull after the page
        in hand: its cursor is saved, so the next pull goes on from there; and a push after the
        batch in hand: what was not posted stays unconfirmed, so the next push sends it."""
        peers = Peers(self.db, self.clock, self.vault)
        puller = Puller(self.db, self.clock, self.intake, self.info, stop=stop)
        pusher = Pusher(self.db, self.clock, self.decisions, self.release, stop=stop)
        return Federation(self.db, self.clock, peers, puller.pull, pusher.push)

    def _record_reveal(self, conn: Connection, source_id: str, by: str, reason: str) -> None:
        self.ledger.reveal(conn, time=self.clock.now(), source=source_id, by=by, reason=reason)

    @property
    def keys_dir(self) -> Path:
        return keys_dir(self.settings)

    def close(self) -> None:
        self.db.dispose()


def keys_dir(settings: Settings) -> Path:
    return settings.data / "keys"


def kek_file(settings: Settings) -> str:
    """The vault key-encryption key file: the setting, else `<data>.kek` beside (never inside) the
    data folder, else the one kept for this data folder in the user's key folder (see
    `user_kek_path`), when that file exists and no key is given in the environment."""
    if settings.kek_file or settings.kek:
        return settings.kek_file
    for candidate in (default_kek_path(settings), user_kek_path(settings)):
        if candidate.exists():
            return str(candidate)
    return ""


def default_kek_path(settings: Settings) -> Path:
    data = settings.data.resolve()
    return data.parent / f"{data.name}.kek"


def user_kek_path(settings: Settings) -> Path:
    """Where a key made for this data folder is kept when none is configured: the user's data folder
    (`$XDG_DATA_HOME/tearline/keys`, else `~/.local/share/tearline/keys`), outside any working tree,
    named after the data folder and a digest of its absolute path (two `./tearline-data` folders in
    two projects get two keys)."""
    import hashlib
    import os

    data = settings.data.resolve()
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    digest = hashlib.sha256(str(data).encode()).hexdigest()[:16]
    return base / "tearline" / "keys" / f"{data.name}-{digest}.kek"


def create_node(
    settings: Settings, *, code: str | None = None, name: str | None = None, clock: Clock | None = None,
    ids: IdFactory | None = None,
) -> tuple[Node, bool]:
    clock = clock or SystemClock()
    ids = ids or RandomIds()
    settings.data.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    info, created = init_node(db, keys_dir(settings), clock, code=code, name=name, ids=ids)
    return Node(settings=settings, db=db, clock=clock, info=info, ids=ids), created


def open_node(settings: Settings, *, clock: Clock | None = None) -> Node:
    """Open an existing node: check (and bring up to date) its schema, read its facts."""
    db = Database(settings.db_url)
    try:
        db.check_schema()
        info = read_node(db)
    except Exception:
        db.dispose()
        raise
    return Node(settings=settings, db=db, clock=clock or SystemClock(), info=info)
