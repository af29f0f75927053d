"""Export: a STIX 2.1 bundle of what one partner may receive, through the release pipeline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import select

from tearline.errors import NotFound
from tearline.ids import IdFactory
from tearline.services.decisions import Decisions
from tearline.services.release import ReleasePipeline
from tearline.services.trust import Trust
from tearline.store import nodes
from tearline.store.engine import Database
from tearline.store.schema import objects

BATCH = 500


@dataclass
class ExportSummary:
    released: int = 0
    withheld: int = 0
    ledger_first: int | None = None
    ledger_last: int | None = None


class Exporter:
    def __init__(self, db: Database, trust: Trust, decisions: Decisions, release: ReleasePipeline,
                 ids: IdFactory) -> None:
        self.db = db
        self.ids = ids
        self.trust = trust
        self.decisions = decisions
        self.release = release

    def export(
        self, partner: str, out: BinaryIO, *, collection: str = "shared", progress: Callable[[int], None] | None = None
    ) -> ExportSummary:
        """Write a bundle of the latest released version of every object the partner may receive.

        Every object goes through the release pipeline (channel ``export``), so it is recorded.
        """
        code = self.trust.get(partner).code
        with self.db.read() as conn:
            coll = nodes.find_collection(conn, collection)
        if coll is None or (coll.kind == "inbox" and coll.owner != code):
            raise NotFound(f"no collection `{collection}`")
        view = self.decisions.view(code)
        summary = ExportSummary()
        definitions: dict[str, bytes] = {}
        out.write(b'{"type":"bundle","id":"' + self.ids.new("bundle").encode() + b'","objects":[')
        first = True
        latest: dict[str, Any] = {}
        written: set[str] = set()
        with self.db.read() as conn:
            q = (
                select(objects.c.seq, objects.c.stix_id, objects.c.version_us, objects.c.date_added_us)
                .where(objects.c.collection_id == coll.id)
                .order_by(objects.c.seq)
            )
            for row in conn.execute(q):
                if view.released(int(row.seq), int(row.date_added_us)):
                    prev = latest.get(row.stix_id)
                    if prev is None or (row.version_us, row.seq) > (prev.version_us, prev.seq):
                        latest[row.stix_id] = row
        rows = sorted(int(r.seq) for r in latest.values())
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            for o in self.release.release(code, batch, channel="export"):
                if o.body is None:
                    summary.withheld += 1
                    continue
                for d in o.definitions:
                    definitions.setdefault(d.id, d.body)
                out.write((b"" if first else b",") + o.body)
                written.add(o.stix_id)
                first = False
                summary.released += 1
                if o.ledger_seq is not None:
                    summary.ledger_first = (
                        o.ledger_seq if summary.ledger_first is None else min(summary.ledger_first, o.ledger_seq)
                    )
                    summary.ledger_last = max(summary.ledger_last or 0, o.ledger_seq)
            if progress is not None:
                progress(len(batch))
        for key in sorted(definitions.keys() - written):  # one stored in the collection went as an object
            out.write((b"" if first else b",") + definitions[key])
            first = False
        out.write(b"]}\n")
        return summary
