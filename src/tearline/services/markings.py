"""The node's marking definitions, as partners may fetch them.

Objects leave the node marked with tearline's own marking definitions (TLP 2.0 and the ISA ACS
3.0 extension; see :mod:`tearline.stix.markings`). A partner that receives an object needs the
definitions it references, but a definition spells out a label, so it may learn of a label only
as far as it may receive objects carrying it: a definition is served to a partner exactly when
the policy would release an item with that label to it (the standard TLP definitions are public).

Objects may also cite ``statement`` marking definitions (copyright, terms of use: ATT&CK's
"© The MITRE Corporation"). They carry no label, so they decide nothing; an object leaves with
the statements it cites next to the node's own markings, as far as the partner may see the
statement's definition object, which is stored in the object's collection like any other object
(see ``docs/labels.md``). Statements are kept per collection, first stored wins (definitions are
immutable), so a definition a partner posts into its inbox never stands for one in another
collection.

The registry of labels is kept from the stored label texts (object and portion labels), and the
statements from the stored marking-definition objects, each extended by ``seq`` watermark, so it
never re-reads what it has seen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
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
from tearline.stix.markings import TLP2_MARKING_IDS, TLP_MARKING_IDS, is_statement, label_to_markings, tlp_definition
from tearline.store.engine import Database
from tearline.store.schema import objects

_PUBLIC = {v: tlp_definition(k) for k, v in TLP2_MARKING_IDS.items()}
ABSENT_S = 2.0


class MarkingRegistry:
    def __init__(self, db: Database, node: NodeInfo) -> None:
        self.db = db
        self.node = node
        self._lock = threading.Lock()
        self._watermark = 0
        self._by_id: dict[str, tuple[dict[str, Any], Label]] = {}
        self._statements_watermark = 0
        self._statements: dict[tuple[str, str], dict[str, Any]] = {}  # (collection id, definition id)
        self._absent: set[tuple[str, str]] = set()  # cited, but no statement stored (at the last look)
        self._absent_at = time.monotonic()

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

    def own(self, definition_id: str) -> dict[str, Any] | None:
        """One of the node's own definitions (TLP 2.0, or a label's ACS definition), whoever may
        see it: for resolving what partners post, never for sending."""
        if definition_id in _PUBLIC:
            return _PUBLIC[definition_id]
        if definition_id not in self._by_id:
            self._refresh()
        found = self._by_id.get(definition_id)
        return None if found is None else found[0]

    def statements(self, collection_id: str, refs: Iterable[str]) -> list[dict[str, Any]]:
        """The statement definitions among ``refs`` stored in the collection, in ``refs`` order."""
        wanted = [r for r in refs if r not in TLP_MARKING_IDS and r not in self._by_id]
        if not wanted:
            return []
        keys = [(collection_id, r) for r in wanted]
        missing = [k for k in keys if k not in self._statements]
        if missing and (any(k not in self._absent for k in missing) or self._absent_stale()):
            self._refresh_statements()
            self._absent.update(k for k in missing if k not in self._statements)
        return [d for k in keys if (d := self._statements.get(k)) is not None]

    def _absent_stale(self) -> bool:
        """Ids known not to be statements are looked up again at most every ``ABSENT_S`` seconds."""
        now = time.monotonic()
        if now - self._absent_at < ABSENT_S:
            return False
        self._absent_at = now
        self._absent.clear()
        return True

    def _refresh_statements(self) -> None:
        with self._lock, self.db.read() as conn:
            q = (
                select(objects.c.seq, objects.c.collection_id, objects.c.stix_id, objects.c.body)
                .where(objects.c.seq > self._statements_watermark, objects.c.type == "marking-definition")
                .order_by(objects.c.seq)
            )
            for seq, collection_id, stix_id, body in conn.execute(q):
                self._statements_watermark = int(seq)
                d = loads(body)
                if isinstance(d, dict) and is_statement(d):
                    self._statements.setdefault((str(collection_id), str(stix_id)), d)

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
