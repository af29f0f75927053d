"""The node's marking definitions, as partners may fetch them.

Objects leave the node marked with tearline's own marking definitions (TLP 2.0 and the ISA ACS
3.0 extension; see :mod:`tearline.stix.markings`). A partner that receives an object needs the
definitions it references, but a definition spells out a label, so it may learn of a label only
as far as it may receive objects carrying it: a definition is served to a partner exactly when
the policy would release an item with that label to it (the standard TLP definitions are public).

The registry of labels is kept from the stored label texts (object and portion labels),
extended by ``seq`` watermark, so it never re-reads what it has seen.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from tearline.canonical import dumps, from_micros, loads
from tearline.model.labeltext import parse_label
from tearline.model.markings import Label, Tlp
from tearline.model.partners import TrustProfile
from tearline.policy.decide import decide
from tearline.services.node import NodeInfo
from tearline.stix.markings import TLP2_MARKING_IDS, label_to_markings, tlp_definition
from tearline.store.engine import Database
from tearline.store.schema import objects

_PUBLIC = {v: tlp_definition(k) for k, v in TLP2_MARKING_IDS.items()}


class MarkingRegistry:
    def __init__(self, db: Database, node: NodeInfo) -> None:
        self.db = db
        self.node = node
        self._lock = threading.Lock()
        self._watermark = 0
        self._by_id: dict[str, tuple[dict[str, Any], Label]] = {}

    def _refresh(self) -> None:
        with self._lock, self.db.read() as conn:
            q = (
                select(objects.c.seq, objects.c.label, objects.c.portions)
                .where(objects.c.seq > self._watermark)
                .order_by(objects.c.seq)
            )
            texts: set[str] = set()
            for seq, text, portions in conn.execute(q):
                texts.add(text)
                if portions:
                    texts.update(t for _, t in loads(portions))
                self._watermark = int(seq)
            for text in texts:
                label = parse_label(text)
                _, defs = label_to_markings(label, created=self.node.created, created_by_ref=self.node.identity_id)
                for d in defs:
                    if d["id"] not in _PUBLIC:
                        # the ACS definition says nothing of TLP (that is the public TLP definition),
                        # so its visibility must not depend on it either
                        self._by_id.setdefault(d["id"], (d, replace(label, tlp=Tlp.CLEAR)))

    def definition(self, definition_id: str, profile: TrustProfile | None, at: datetime) -> bytes | None:
        """The definition's bytes if ``profile``'s partner may see it, else None (as if absent)."""
        if definition_id in _PUBLIC:
            return dumps(_PUBLIC[definition_id])
        if definition_id not in self._by_id:
            self._refresh()
        found = self._by_id.get(definition_id)
        if found is None or profile is None:
            return None
        definition, label = found
        # no approval is assumed: an ORCON or TLP:RED label's definition stays unknown to partners
        decision = decide(label, profile, at, added=from_micros(0), approved=False)
        return dumps(definition) if decision.released else None
