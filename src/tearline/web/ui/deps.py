"""What the UI is built from: the services it calls, passed in explicitly.

The web package may not import the composition root or anything that reaches vault identities, so
:func:`create_ui` takes a :class:`UiDeps`; :func:`ui_deps` fills one from an open node using its
attributes only (the ``Node`` type is imported for type checking alone). The vault page gets a
callable that returns summaries (cover, grade, compartments, term counts), never identities.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tearline.clock import Clock
from tearline.errors import ConfigError
from tearline.model.markings import DEFAULT_SCHEME, ClassificationScheme
from tearline.services.users import Users
from tearline.store.reports import Reports, VaultSummary

if TYPE_CHECKING:
    from tearline.bootstrap import Node
    from tearline.services.approvals import Approvals
    from tearline.services.decisions import Decisions
    from tearline.services.ledger import Ledger
    from tearline.services.trust import Trust
    from tearline.services.whatif import Insight

SESSION_KEY_FILE = "ui-session.key"


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
    scheme: ClassificationScheme = DEFAULT_SCHEME
    secure_cookies: bool = False  # set when served over HTTPS
    session_hours: int = 8


def session_secret(keys_dir: Path) -> str:
    """The signing key of UI session cookies, from ``keys_dir/ui-session.key`` (made if missing)."""
    path = keys_dir / SESSION_KEY_FILE
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
    secret = path.read_text("ascii").strip()
    if len(secret) < 32:
        raise ConfigError(f"the session key in `{path}` is too short")
    return secret


def ui_deps(node: Node, *, secure_cookies: bool = False) -> UiDeps:
    """Wire the UI from an open node (called by the composition root, outside the web package)."""
    reports = Reports(node.db)
    return UiDeps(
        node_code=node.info.code,
        node_name=node.info.name,
        clock=node.clock,
        trust=node.trust,
        insight=node.insight,
        decisions=node.decisions,
        ledger=node.ledger,
        approvals=node.approvals,
        reports=reports,
        users=Users(node.db, node.clock),
        vault_summaries=reports.vault_summaries,
        session_secret=session_secret(node.keys_dir),
        secure_cookies=secure_cookies,
    )
