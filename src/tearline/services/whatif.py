"""Preview ("what would partner X receive?") and what-if ("what would this profile change?")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from tearline.canonical import to_micros
from tearline.clock import Clock
from tearline.errors import InvalidInput, NotFound
from tearline.policy.whatif import WhatIfReport, whatif
from tearline.services.decisions import Decisions
from tearline.services.release import Outcome, ReleasePipeline
from tearline.services.trust import ProfileChange, Trust
from tearline.store import approvals as approvals_store
from tearline.store import nodes
from tearline.store import objects as objects_store
from tearline.store.engine import Database


@dataclass(frozen=True)
class Preview:
    outcome: Outcome
    collection: str  # the alias of the collection whose copy was previewed
    others: tuple[str, ...]  # aliases of the other collections holding the object


class Insight:
    def __init__(
        self, db: Database, clock: Clock, trust: Trust, decisions: Decisions, release: ReleasePipeline
    ) -> None:
        self.db = db
        self.clock = clock
        self.trust = trust
        self.decisions = decisions
        self.release = release

    def preview(
        self, partner: str, stix_id: str, *, version: str | None = None, at: datetime | None = None,
        collection: str | None = None,
    ) -> Outcome:
        """Exactly what the partner would receive, through the release pipeline, recording nothing."""
        return self.preview_copy(partner, stix_id, version=version, at=at, collection=collection).outcome

    def preview_copy(
        self, partner: str, stix_id: str, *, version: str | None = None, at: datetime | None = None,
        collection: str | None = None,
    ) -> Preview:
        """:meth:`preview`, saying which collection's copy it answers for: ``collection`` (id or
        alias), else ``shared`` when it holds the object, else the collection of its latest version;
        ``others`` are the other collections that hold a copy."""
        partner = self.trust.get(partner).code
        with self.db.read() as conn:
            chosen = None
            if collection is not None:
                chosen = nodes.find_collection(conn, collection)
                if chosen is None:
                    raise NotFound(f"no collection `{collection}`")
            rows = objects_store.versions_of(conn, stix_id)
            holders = {c.id: c for c in nodes.list_collections(conn)}
        if not rows:
            raise NotFound(f"no object `{stix_id}`")
        held = sorted({str(r.collection_id) for r in rows})
        if chosen is None:
            shared = [c for c in held if holders[c].kind == "shared"]
            latest = max(rows, key=lambda r: (r.version_us, r.seq))
            chosen = holders[shared[0] if shared else str(latest.collection_id)]
        rows = [r for r in rows if r.collection_id == chosen.id]
        if not rows:
            raise NotFound(f"object `{stix_id}` is not in collection `{chosen.alias}`")
        if version is not None:
            rows = [r for r in rows if r.version == version]
            if not rows:
                raise NotFound(f"object `{stix_id}` has no version `{version}` in collection `{chosen.alias}`")
        row = max(rows, key=lambda r: (r.version_us, r.seq))
        outcome = self.release.release(partner, [row], channel="preview", at=at, record=False)[0]
        others = tuple(holders[c].alias for c in held if c != chosen.id)
        return Preview(outcome, chosen.alias, others)

    def whatif(
        self, partner: str, change: ProfileChange, *, since: datetime | None = None, at: datetime | None = None
    ) -> WhatIfReport:
        """Replay every version added since ``since`` under the proposed profile."""
        if change.empty:
            raise InvalidInput("give at least one profile option to compare")
        at = at or self.clock.now()
        current, proposed = self.trust.proposed(partner, change)
        cols, ids = self.decisions.columns()
        with self.db.read() as conn:
            approved_ids = approvals_store.approved_ids(conn, current.partner)
        approved = (
            np.fromiter((i in approved_ids for i in ids), dtype=np.bool_, count=len(ids)) if approved_ids else None
        )
        return whatif(
            cols,
            current,
            proposed,
            to_micros(at),
            since_us=None if since is None else to_micros(since),
            approved=approved,
        )
