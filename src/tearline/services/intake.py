"""Intake: STIX objects in, validated, labelled and stored; one transaction per unit.

A unit is what commits together: a bundle, an envelope, a JSON array, or a batch of JSON lines.
A unit with an invalid object is refused whole unless ``skip_invalid`` (then the bad objects are
reported and the rest stored). Re-ingesting a stored version is a no-op (counted as duplicate).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, BinaryIO

from tearline.canonical import dumps, timestamp_micros, to_micros
from tearline.clock import Clock
from tearline.errors import InvalidInput, NotFound, StixError
from tearline.model.labeltext import format_label
from tearline.model.markings import Label, MarkedItem
from tearline.stix.markings import is_marking_definition, item_from_stix
from tearline.stix.reader import Unit, read_units
from tearline.stix.validate import check_object, describe
from tearline.store import nodes
from tearline.store import objects as objects_store
from tearline.store.engine import Database

SOURCE_TOKEN = re.compile(r"\{\{source:([A-Za-z0-9_-]{1,64})\}\}")


@dataclass
class IngestSummary:
    new: int = 0
    duplicate: int = 0
    rejected: int = 0
    units: int = 0
    problems: list[str] = field(default_factory=list)
    new_seqs: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "new": self.new,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "units": self.units,
            "problems": self.problems,
        }


@dataclass(frozen=True)
class Prepared:
    obj: dict[str, Any]
    item: MarkedItem
    body: bytes = b""  # the canonical bytes (made from obj when empty)


@dataclass(frozen=True)
class StoredVersion:
    """A version just written: what the decision hook needs without reading it back."""

    seq: int
    stix_id: str
    item: MarkedItem
    added_us: int


@functools.lru_cache(maxsize=4096)
def label_columns(label: Label) -> tuple[Any, ...]:
    """The stored label columns of a label, in `objects` column order (labels repeat: cached)."""
    return (
        format_label(label),
        label.classification,
        int(label.tlp),
        label.noforn,
        label.orcon,
        ",".join(sorted(label.rel_to)),
        ",".join(sorted(label.topics)),
        ",".join(sorted(label.source_refs)),
        label.originator,
        None if label.further_sharing is None else ",".join(sorted(label.further_sharing)),
    )


def cited_sources(obj: Any, body: bytes | None = None) -> set[str]:
    """Cover names cited by ``{{source:COVER}}`` tokens anywhere in the object's strings.

    ``body``, the object's JSON bytes when at hand, lets objects without a token skip the walk.
    """
    if body is not None and b"{{source:" not in body:
        return set()
    found: set[str] = set()
    for text in _strings(obj):
        if "{{source:" in text:
            found.update(m.group(1).upper() for m in SOURCE_TOKEN.finditer(text))
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def version_of(obj: dict[str, Any]) -> str:
    """The STIX version timestamp: ``modified``, else ``created``, else a fixed epoch (SCOs)."""
    return str(obj.get("modified") or obj.get("created") or "1970-01-01T00:00:00.000Z")


ObjectCheck = Callable[[dict[str, Any], MarkedItem], list[str]]


class Intake:
    """Validates, labels and stores object versions."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        on_stored: Callable[[Any, Sequence[StoredVersion]], None] | None = None,
        object_checks: Sequence[ObjectCheck] = (),
    ) -> None:
        self.db = db
        self.clock = clock
        self.on_stored = on_stored  # called inside the transaction with the new versions
        self.object_checks = list(object_checks)

    # -- files ----------------------------------------------------------------------------
    def ingest_paths(
        self,
        paths: Sequence[str],
        *,
        collection: str = "shared",
        default: Label,
        skip_invalid: bool = False,
        strict: bool = False,
        batch: int = 1000,
        stdin: BinaryIO | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> IngestSummary:
        summary = IngestSummary()
        coll = self._collection(collection)
        for path in paths:
            for unit in read_units(path if path != "-" else "-", batch=batch, stdin=stdin):
                prepared, problems = self.prepare_unit(unit, default=default, strict=strict, checks=True)
                if problems and not skip_invalid:
                    raise StixError(problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
                summary.problems.extend(problems)
                summary.rejected += len(problems)
                self.store(prepared, collection_id=coll, added=self.clock.now(), summary=summary)
                summary.units += 1
                if progress is not None:
                    progress(unit.size_bytes)
        return summary

    def prepare_unit(
        self, unit: Unit, *, default: Label, strict: bool = False, checks: bool = False
    ) -> tuple[list[Prepared], list[str]]:
        """Validate and label every object of a unit: (good objects, one line per bad object).

        ``checks`` runs the node's object checks (the vault's protected-term check) too: on for
        analysts' ingest; off for what partners post, whose rejection message would otherwise tell
        a partner that something it sent is a protected term.
        """
        good: list[Prepared] = []
        problems: list[str] = []
        definitions = unit.definitions
        for raw in unit.objects:
            obj = raw.obj
            issues = check_object(obj)
            if not issues and strict:
                from tearline.stix.validate import deep_check

                issues = deep_check(obj)
            item: MarkedItem | None = None
            body = b""
            if not issues:
                try:
                    body = dumps(obj)
                    item = self.label_object(obj, definitions, default, body=body)
                except StixError as exc:
                    issues = [exc.message]
            if checks and not issues and item is not None:
                for check in self.object_checks:
                    issues.extend(check(obj, item))
            if issues or item is None:
                problems.append(describe(unit.source, raw.index, obj, issues))
                continue
            good.append(Prepared(obj=obj, item=item, body=body))
        return good, problems

    def label_object(
        self,
        obj: dict[str, Any],
        definitions: dict[str, dict[str, Any]],
        default: Label,
        *,
        body: bytes | None = None,
    ) -> MarkedItem:
        if is_marking_definition(obj):
            return MarkedItem(label=Label(originator=default.originator))
        item = item_from_stix(obj, definitions, default=default)
        cited = cited_sources(obj, body)
        if cited:
            label = replace(item.label, source_refs=item.label.source_refs | frozenset(cited))
            item = replace(item, label=label)
        return item

    # -- storing --------------------------------------------------------------------------
    def store(
        self,
        prepared: Sequence[Prepared],
        *,
        collection_id: str,
        added: datetime | Sequence[datetime],
        summary: IngestSummary,
        posted_by: str | None = None,
    ) -> list[int]:
        """Store one unit in one transaction; returns the new seqs.

        ``added`` is the time the unit was added, or one time per object (replays, the demo).
        """
        if not prepared:
            return []
        times = [added] * len(prepared) if isinstance(added, datetime) else list(added)
        if len(times) != len(prepared):
            raise ValueError("one added time per object")
        rows = [
            self.to_row(p, collection_id, to_micros(t), posted_by) for p, t in zip(prepared, times, strict=True)
        ]
        # the same version twice in one unit counts once
        unique: dict[tuple[str, int], tuple[objects_store.NewVersion, MarkedItem]] = {}
        for r, p in zip(rows, prepared, strict=True):
            unique.setdefault((r.stix_id, r.version_us), (r, p.item))
        with self.db.write() as conn:
            # versions already stored are skipped by the insert itself (ON CONFLICT DO NOTHING)
            inserted = objects_store.insert_versions(conn, [r for r, _ in unique.values()])
            stored = [
                StoredVersion(seq, sid, unique[(sid, vus)][1], unique[(sid, vus)][0].date_added_us)
                for seq, sid, vus in inserted
            ]
            if self.on_stored is not None and stored:
                self.on_stored(conn, stored)
        seqs = [s.seq for s in stored]
        summary.new += len(seqs)
        summary.duplicate += len(rows) - len(seqs)
        summary.new_seqs.extend(seqs)
        return seqs

    def to_row(
        self, p: Prepared, collection_id: str, added_us: int, posted_by: str | None
    ) -> objects_store.NewVersion:
        obj = p.obj
        body = p.body or dumps(obj)
        version = version_of(obj)
        portions = (
            dumps([[pt.selector, format_label(pt.label)] for pt in p.item.portions]).decode()
            if p.item.portions
            else None
        )
        return objects_store.NewVersion(
            collection_id,
            obj["id"],
            obj["type"],
            version,
            timestamp_micros(version),
            str(obj.get("spec_version", "2.1")),
            added_us,
            body,
            hashlib.sha256(body).hexdigest(),
            *label_columns(p.item.label),
            portions,
            posted_by,
        )

    def _collection(self, key: str) -> str:
        with self.db.read() as conn:
            row = nodes.find_collection(conn, key)
        if row is None:
            raise NotFound(f"no collection `{key}`")
        return row.id


def read_label_arg(text: str | None, topics: Sequence[str], base: Label) -> Label:
    """The default label from ``--label`` and ``--topic`` options over the node's default."""
    from tearline.model.labeltext import parse_label

    label = parse_label(text) if text else base
    extra = frozenset(t.strip().lower() for t in topics if t.strip())
    for t in extra:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", t):
            raise InvalidInput(f"bad topic `{t}`")
    return replace(label, topics=label.topics | extra) if extra else label

