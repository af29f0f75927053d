"""Intake: STIX objects in, validated, labelled and stored; one transaction per unit.

A unit is what commits together: a bundle, an envelope, a JSON array, or a batch of JSON lines.
A unit with an invalid object is refused whole unless ``skip_invalid`` (then the bad objects are
reported and the rest stored). Re-ingesting a stored version is a no-op (counted as duplicate).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, BinaryIO, NamedTuple

from tearline.canonical import to_micros
from tearline.clock import Clock
from tearline.errors import InvalidInput, NotFound, StixError
from tearline.model.markings import Label, MarkedItem
from tearline.services import collector
from tearline.services.prepare import (
    SOURCE_TOKEN,
    Prepared,
    cited_sources,
    label_columns,
    prepare_objects,
    to_batch,
    version_of,
)
from tearline.stix.reader import Unit, read_units
from tearline.stix.validate import describe
from tearline.store import nodes
from tearline.store import objects as objects_store
from tearline.store.engine import Database
from tearline.store.objects import Batch

__all__ = [
    "SOURCE_TOKEN",
    "IngestSummary",
    "Intake",
    "ObjectCheck",
    "Prepared",
    "Stored",
    "cited_sources",
    "label_columns",
    "read_label_arg",
    "version_of",
]


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


class Stored(NamedTuple):
    """The versions just written, as columns: what the decision hook needs without reading them back."""

    seqs: list[int]
    stix_ids: list[str]
    items: list[MarkedItem]
    added_us: list[int]


ObjectCheck = Callable[[Sequence[Prepared]], dict[int, list[str]]]
"""A node check on the valid objects of a unit, each prepared (its object, labels and canonical
bytes): the problems of each object that has any, by its position in the sequence. A unit at a
time, so a check takes what it needs (the vault's current terms) once, not once per object."""


class Intake:
    """Validates, labels and stores object versions."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        on_stored: Callable[[Any, Stored], None] | None = None,
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
            units = read_units(path if path != "-" else "-", batch=batch, stdin=stdin)
            while True:
                with collector.paused():  # one unit read, prepared and stored (see the module)
                    unit = next(units, None)
                    if unit is None:
                        break
                    prepared, problems = self.prepare_unit(unit, default=default, strict=strict, checks=True)
                    if problems and not skip_invalid:
                        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
                        raise StixError(problems[0] + more)
                    summary.problems.extend(problems)
                    summary.rejected += len(problems)
                    self.store(prepared, collection_id=coll, added=self.clock.now(), summary=summary)
                    summary.units += 1
                    size = unit.size_bytes
                    # freed before the collector resumes, or its first pass would walk them all
                    del unit, prepared
                if progress is not None:
                    progress(size)
        return summary

    def prepare_unit(
        self, unit: Unit, *, default: Label, strict: bool = False, checks: bool = False
    ) -> tuple[list[Prepared], list[str]]:
        """Validate and label every object of a unit: (good objects, one line per bad object).

        ``checks`` runs the node's object checks (the vault's protected-term check) too: on for
        analysts' ingest; off for what partners post, whose rejection message would otherwise tell
        a partner that something it sent is a protected term.
        """
        _, prepared, problems = self._prepare(unit, default=default, strict=strict, checks=checks)
        return prepared, [line for _, line in problems]

    def prepare_positions(
        self, unit: Unit, *, default: Label, strict: bool = False, checks: bool = False
    ) -> tuple[list[tuple[int, Prepared]], list[tuple[int, str]]]:
        """:meth:`prepare_unit`, each good object and problem line with its object's position."""
        positions, prepared, problems = self._prepare(unit, default=default, strict=strict, checks=checks)
        return list(zip(positions, prepared, strict=True)), problems

    def _prepare(
        self, unit: Unit, *, default: Label, strict: bool, checks: bool
    ) -> tuple[list[int], list[Prepared], list[tuple[int, str]]]:
        positions, prepared, problems = prepare_objects(unit, default=default, strict=strict)
        if checks and self.object_checks and prepared:
            found: dict[int, list[str]] = {}
            for check in self.object_checks:
                for n, issues in check(prepared).items():
                    if issues:
                        found.setdefault(n, []).extend(issues)
            if found:
                for n, issues in found.items():
                    problems.append((positions[n], describe(unit.source, positions[n], prepared[n].obj, issues)))
                positions = [i for n, i in enumerate(positions) if n not in found]
                prepared = [p for n, p in enumerate(prepared) if n not in found]
                problems.sort(key=lambda p: p[0])
        return positions, prepared, problems

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
        if isinstance(added, datetime):
            added_us = [to_micros(added)] * len(prepared)
        else:
            added_us = [to_micros(t) for t in added]
            if len(added_us) != len(prepared):
                raise ValueError("one added time per object")
        batch = to_batch(prepared, collection_id, added_us, posted_by)
        with self.db.write() as conn:
            # versions already stored are skipped by the insert itself (ON CONFLICT DO NOTHING), and
            # so is the second of the same version twice in one unit
            inserted = objects_store.insert_batch(conn, batch)
            if self.db.is_sqlite and len(inserted) == len(prepared):  # all of them, in the order given
                ids = [v[objects_store.STIX_ID] for v in batch.versions]
                stored = Stored([seq for seq, _ in inserted], ids, [p.item for p in prepared], added_us)
            else:
                stored = _stored_of(inserted, batch, prepared, added_us)
            if self.on_stored is not None and stored.seqs:
                self.on_stored(conn, stored)
        summary.new += len(stored.seqs)
        summary.duplicate += len(prepared) - len(stored.seqs)
        summary.new_seqs.extend(stored.seqs)
        return stored.seqs

    def _collection(self, key: str) -> str:
        with self.db.read() as conn:
            row = nodes.find_collection(conn, key)
        if row is None:
            raise NotFound(f"no collection `{key}`")
        return row.id


def _stored_of(
    inserted: Sequence[tuple[int, int]], batch: Batch, prepared: Sequence[Prepared], added_us: Sequence[int]
) -> Stored:
    """What was inserted of a batch ((seq, index in the batch) each), with its item and time added."""
    at_id = objects_store.STIX_ID
    return Stored(
        [seq for seq, _ in inserted],
        [batch.versions[i][at_id] for _, i in inserted],
        [prepared[i].item for _, i in inserted],
        [added_us[i] for _, i in inserted],
    )


def read_label_arg(text: str | None, topics: Sequence[str], base: Label) -> Label:
    """The default label from ``--label`` and ``--topic`` options over the node's default."""
    from tearline.model.labeltext import parse_label

    label = parse_label(text) if text else base
    extra = frozenset(t.strip().lower() for t in topics if t.strip())
    for t in extra:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", t):
            raise InvalidInput(f"bad topic `{t}`")
    return replace(label, topics=label.topics | extra) if extra else label

