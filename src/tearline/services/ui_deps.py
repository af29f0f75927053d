"""What the web UI is built from: the services it calls, made by the composition root
(:meth:`tearline.bootstrap.Node.ui_deps`) and passed in explicitly.

Nothing here reaches vault identities: the vault page gets a callable that returns summaries
(cover, grade, compartments, term counts), never identities. :class:`Reports` are the read-only
queries behind the pages (aggregates in SQL, kept in the store); the UI reaches them, like every
other service, through this module, never the store itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tearline.clock import Clock
from tearline.model.markings import DEFAULT_SCHEME, ClassificationScheme
from tearline.services.approvals import Approvals
from tearline.services.decisions import Decisions
from tearline.services.ledger import Ledger
from tearline.services.trace import TraceResult
from tearline.services.trust import Trust
from tearline.services.users import Users
from tearline.services.whatif import Insight
from tearline.store.reports import Reports, VaultSummary

__all__ = ["Reports", "UiDeps", "VaultSummary"]


@dataclass
class UiDeps:
    node_code: str
    node_name: str
    clock: Clock
    trust: Trust
    insight: Insight
    decisions: Decisions
    ledger: Ledger
    approvals: Approvals
    reports: Reports
    users: Users
    vault_summaries: Callable[[], list[VaultSummary]]
    session_secret: str
    trace: Callable[[list[tuple[str, bytes]]], TraceResult]  # (name, bytes) of leaked files -> result
    scheme: ClassificationScheme = DEFAULT_SCHEME
    secure_cookies: bool = False  # set when served over HTTPS
    session_hours: int = 8
