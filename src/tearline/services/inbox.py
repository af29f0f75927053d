"""Partners' inboxes: Add Objects (TAXII 2.1 §5.5) and Get Status (§4.3).

What a partner posts is validated like ingest, labelled as the partner's own (the node's default
label with the partner as originator, unless its markings say more) and stored in its inbox; every
object of the envelope gets a success or a failure, in the envelope's order, and the status resource
is kept for the partner to read again. Marking references resolve against the envelope, the
collection's stored definitions and the node's own (``docs/labels.md``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from tearline.canonical import dumps, format_timestamp, to_micros
from tearline.clock import Clock
from tearline.errors import TaxiiError, not_found
from tearline.ids import IdFactory
from tearline.services.intake import IngestSummary, Intake, version_of
from tearline.services.markings import MarkingRegistry
from tearline.services.node import NodeInfo
from tearline.services.prepare import owned_by_all
from tearline.stix.markings import TLP_MARKING_IDS, marking_refs
from tearline.stix.reader import RawObject, Unit
from tearline.store import status as status_store
from tearline.store import sync as sync_store
from tearline.store.engine import Database
from tearline.store.nodes import CollectionRow

MAX_OBJECTS = 10_000


def writable(row: CollectionRow, partner: str) -> bool:
    """Only a partner's own inbox takes its posts and deletes."""
    return row.kind == "inbox" and row.owner == partner


class Inbox:
    def __init__(self, db: Database, clock: Clock, info: NodeInfo, intake: Intake, markings: MarkingRegistry,
                 ids: IdFactory) -> None:
        self.db = db
        self.clock = clock
        self.info = info
        self.intake = intake
        self.markings = markings
        self.ids = ids

    def add_objects(self, partner: str, row: CollectionRow, body: bytes) -> bytes:
        """Store what the partner posts into ``row`` (its inbox); the status resource's bytes."""
        if not writable(row, partner):
            raise TaxiiError(403, "this collection cannot be written to", code="read_only")
        objs = _envelope_objects(body)
        now = self.clock.now()
        default = replace(self.info.default_label, originator=partner)
        definitions, unknown = self._definitions(row, objs)
        refused = {index: "not a JSON object" for index, obj in enumerate(objs) if not isinstance(obj, dict)}
        for index, ref in unknown.items():
            refused[index] = (f"unknown marking definition `{ref}`: post the definition first, "
                              "or in the same envelope")
        unit = Unit(source="envelope", kind="envelope", definitions=definitions,
                    objects=[RawObject(index, obj) for index, obj in enumerate(objs) if index not in refused])
        good, problems = self.intake.prepare_positions(unit, default=default)  # one unit: labels cached
        refused.update(problems)
        failures = [{**_ref(objs[index]), "message": refused[index]} for index in sorted(refused)]
        prepared = owned_by_all([p for _, p in good], partner)
        if prepared:
            self.intake.store(prepared, collection_id=row.id, added=now, summary=IngestSummary(), posted_by=partner)
        successes = [{"id": p.obj["id"], "version": version_of(p.obj)} for p in prepared]
        status = {
            "id": self.ids.new_uuid(),  # a status id is a bare UUID (§4.3.1)
            "status": "complete",
            "request_timestamp": format_timestamp(now),
            "total_count": len(objs),
            "success_count": len(successes),
            "successes": successes,
            "failure_count": len(failures),
            "failures": failures,
            "pending_count": 0,
            "pendings": [],
        }
        data = dumps(status)
        with self.db.write() as conn:
            status_store.add(conn, str(status["id"]), partner, to_micros(now), data)
        return data

    def _definitions(self, row: CollectionRow, objs: list[Any]) -> tuple[dict[str, dict[str, Any]], dict[int, str]]:
        """The marking definitions the envelope's objects refer to, found in order in the envelope,
        among the definitions stored in the target collection, and among the node's own (TLP 1.0
        and 2.0, the ACS definitions of its labels); and, by position, the first reference of each
        object that none of them holds."""
        definitions = {
            o["id"]: o for o in objs
            if isinstance(o, dict) and o.get("type") == "marking-definition" and isinstance(o.get("id"), str)
        }
        refs = {i: marking_refs(o) for i, o in enumerate(objs) if isinstance(o, dict)}
        wanted = set().union(*refs.values()) - definitions.keys() - TLP_MARKING_IDS.keys()
        if wanted:
            with self.db.read() as conn:
                stored = sync_store.marking_definitions(conn, row.id)
            for ref in sorted(wanted):
                if ref in stored:
                    definitions[ref] = orjson.loads(stored[ref])
                elif (own := self.markings.own(ref)) is not None:
                    definitions[ref] = own
        known = definitions.keys() | TLP_MARKING_IDS.keys()
        unknown = {i: min(r - known) for i, r in refs.items() if not r <= known}
        return definitions, unknown

    def status(self, partner: str, status_id: str) -> bytes:
        """One of the partner's status resources; another partner's answers as absent."""
        with self.db.read() as conn:
            data = status_store.get(conn, status_id, partner)
        if data is None:
            raise not_found()
        return data


def _ref(obj: Any) -> dict[str, str]:
    if not isinstance(obj, dict):
        return {"id": "", "version": ""}
    return {"id": str(obj.get("id", ""))[:200], "version": str(version_of(obj))[:40]}


def _envelope_objects(body: bytes) -> list[Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise TaxiiError(400, "the body is not valid JSON", code="bad_json") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("objects"), list):
        raise TaxiiError(400, "the body is not a TAXII envelope (an object with `objects`)", code="bad_envelope")
    objs: list[Any] = doc["objects"]
    if len(objs) > MAX_OBJECTS:
        raise TaxiiError(413, f"an envelope may hold at most {MAX_OBJECTS} objects", code="too_many_objects")
    return objs
