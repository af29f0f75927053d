"""Preparing object versions to store: validate, label, canonical bytes, row. Pure: no database.

Everything here is a function of the input and the labels given;
:class:`tearline.services.intake.Intake` runs the node's own checks (the vault's) on what comes out
and stores it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

from tearline.canonical import dumps, timestamp_micros
from tearline.errors import StixError
from tearline.model.labeltext import format_label
from tearline.model.markings import Label, MarkedItem, Portion
from tearline.stix.markings import is_marking_definition, item_from_stix
from tearline.stix.reader import Unit
from tearline.stix.validate import check_object, describe
from tearline.store.objects import Batch, Row

SOURCE_TOKEN = re.compile(r"\{\{source:([A-Za-z0-9_-]{1,64})\}\}")

LabelCache = dict[tuple[str, ...], MarkedItem]


class Prepared(NamedTuple):
    obj: dict[str, Any]
    item: MarkedItem
    body: bytes = b""  # the canonical bytes (made from obj when empty)


def owned_by_all(prepared: Sequence[Prepared], code: str) -> list[Prepared]:
    """The same versions as the partner ``code``'s own, whatever their markings claim (what a
    partner posts to its inbox or a peer sends on a pull). Each distinct item (labels repeat, and
    :func:`label_object` hands out one item for objects marked alike) is relabelled once."""
    owned: dict[int, MarkedItem] = {}  # id(item) -> the item as the partner's own
    out: list[Prepared] = []
    for p in prepared:
        item = owned.get(id(p.item))
        if item is None:
            label = replace(p.item.label, originator=code)
            portions = tuple(Portion(pt.selector, replace(pt.label, originator=code)) for pt in p.item.portions)
            item = owned[id(p.item)] = MarkedItem(label=label, portions=portions)
        out.append(Prepared(p.obj, item, p.body))
    return out


def version_of(obj: dict[str, Any]) -> str:
    """The STIX version timestamp: ``modified``, else ``created``, else a fixed epoch (SCOs)."""
    return str(obj.get("modified") or obj.get("created") or "1970-01-01T00:00:00.000Z")


@functools.lru_cache(maxsize=4096)
def label_columns(label: Label) -> tuple[Any, ...]:
    """The stored label columns of a label, in `objects` column order (labels repeat: cached)."""
    return (
        format_label(label),
        label.classification,
        int(label.tlp),
        int(label.noforn),  # as the integers SQLite stores (a bool is bound through the adapter lookup)
        int(label.orcon),
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


def label_object(
    obj: dict[str, Any],
    definitions: dict[str, dict[str, Any]],
    default: Label,
    *,
    body: bytes | None = None,
    cache: LabelCache | None = None,
) -> MarkedItem:
    """The labels of one object: from its markings (``definitions`` resolve their ids), else
    ``default``; plus the sources it cites.

    ``cache`` (for one ``definitions`` and ``default``) keeps the labels of objects marked alike:
    without granular markings an object's label depends on its marking refs only, and a feed marks
    thousands of objects the same way.
    """
    if is_marking_definition(obj):
        return MarkedItem(label=Label(originator=default.originator))
    refs = obj.get("object_marking_refs", ())
    key: tuple[str, ...] | None = None
    item = None
    if cache is not None and "granular_markings" not in obj and type(refs) in (list, tuple):
        key = tuple(refs)
        try:
            item = cache.get(key)
        except TypeError:  # an unhashable entry: item_from_stix names the error
            key = None
    if item is None:
        item = item_from_stix(obj, definitions, default=default)
        if cache is not None and key is not None:
            cache[key] = item
    if body is not None and b"{{source:" not in body:
        return item  # (the common case: nothing cited, no walk)
    cited = cited_sources(obj, body)
    if cited:
        label = replace(item.label, source_refs=item.label.source_refs | frozenset(cited))
        item = replace(item, label=label)
    return item


def prepare_objects(
    unit: Unit, *, default: Label, strict: bool = False
) -> tuple[list[int], list[Prepared], list[tuple[int, str]]]:
    """Validate and label every object of a unit: (the index of each valid object, its version,
    the index and one line of each invalid one). ``strict`` also runs the OASIS validator."""
    positions: list[int] = []
    good: list[Prepared] = []
    problems: list[tuple[int, str]] = []
    definitions = unit.definitions
    labels: LabelCache = {}
    for position, obj in unit.objects:
        issues = check_object(obj)
        if not issues and strict:
            from tearline.stix.validate import deep_check

            issues = deep_check(obj)
        if not issues:
            try:
                body = dumps(obj)
                item = label_object(obj, definitions, default, body=body, cache=labels)
                positions.append(position)
                good.append(Prepared(obj, item, body))
                continue
            except StixError as exc:
                issues = [exc.message]
        problems.append((position, describe(unit.source, position, obj, issues)))
    return positions, good, problems



def to_batch(
    prepared: Sequence[Prepared], collection_id: str, added_us: Sequence[int], posted_by: str | None
) -> Batch:
    """The stored form of prepared versions (one ``added_us`` each): a
    :class:`~tearline.store.objects.Batch`, whose shared part holds each distinct label (and time
    added) once.

    Versions of a unit share a few labels (:func:`label_object` hands out the same item for objects
    marked alike), so each distinct item's columns are made once here, looked up by identity:
    hashing and comparing a label per row cost more than the rest of the row.
    """
    at: dict[tuple[int, int, str], int] = {}  # (id(item), added, spec_version) -> shared index (``prepared``
    # keeps every item alive, so an id stays its item's)
    shared: list[Row] = []
    versions: list[Row] = []
    last: tuple[object, int, str, int] = (None, 0, "", -1)  # the previous version's (item, added, spec, index)
    for p, added in zip(prepared, added_us, strict=True):
        obj, item = p.obj, p.item
        spec = obj.get("spec_version", "2.1")
        if type(spec) is not str:
            spec = str(spec)
        if item is last[0] and added == last[1] and spec == last[2]:  # the common case: as the one before
            k = last[3]
        else:
            key = (id(item), added, spec)
            k = at.get(key, -1)
            if k < 0:
                portions = (
                    dumps([[pt.selector, format_label(pt.label)] for pt in item.portions]).decode()
                    if item.portions
                    else None
                )
                k = at[key] = len(shared)
                shared.append((collection_id, spec, added, *label_columns(item.label), portions, posted_by))
            last = (item, added, spec, k)
        version = version_of(obj)
        versions.append((obj["id"], obj["type"], version, timestamp_micros(version), p.body or dumps(obj), k))
    return Batch(versions, shared)

