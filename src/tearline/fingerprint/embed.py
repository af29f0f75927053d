"""Embedding a partner's codeword in a STIX object, and reading symbols back from a copy.

Three kinds of meaning-preserving choice carry the symbols (:mod:`tearline.fingerprint.code`):

* **list order** in the unordered list properties of :data:`LIST_FIELDS` (``external_references``
  keeps its first entry first: tools read the ATT&CK id there). Items are put in a keyed neutral
  order; then each item after the first is added at the front (symbol 1) or the back (symbol 0).
  Reading peels items off in reverse neutral order: an item found at neither end is an erasure,
  so a copy missing items still gives the symbols of those it kept;
* **property order** of the object (``type``, ``spec_version``, ``id`` stay first) and of the
  entries of those lists, built the same way (JSON objects are unordered);
* **prose** in :data:`PROSE_FIELDS`, the slots of :mod:`tearline.fingerprint.prose`.

A position is named by the object id, the property and the item or key (prose: by the slot's class
and context alone), never by the version: a partner gets the same symbol for the same choice in
every version. Never touched: ids,
timestamps, patterns, hashes, observable values, names, any other property.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tearline.canonical import dumps
from tearline.fingerprint import prose
from tearline.fingerprint.code import Code

__all__ = ["LIST_FIELDS", "PROSE_FIELDS", "Symbols", "facts", "fingerprint", "symbols"]

LIST_FIELDS = frozenset({
    "object_refs", "labels", "aliases", "kill_chain_phases", "external_references", "roles", "sectors",
    "goals", "malware_types", "tool_types", "threat_actor_types", "indicator_types",
    "infrastructure_types", "report_types", "capabilities", "implementation_languages",
    "architecture_execution_envs", "secondary_motivations", "personal_motivations", "sample_refs",
    "operating_system_refs", "x_mitre_platforms", "x_mitre_domains", "x_mitre_data_sources",
    "x_mitre_contributors", "x_mitre_permissions_required", "x_mitre_effective_permissions",
    "x_mitre_defense_bypassed", "x_mitre_system_requirements", "x_mitre_impact_type", "x_mitre_aliases",
})
KEEP_FIRST = frozenset({"external_references"})
ENTRY_ORDER = frozenset({"external_references", "kill_chain_phases"})  # lists whose entries' keys move
PROSE_FIELDS = ("description", "x_mitre_detection", "content", "abstract", "explanation")
FIXED_KEYS = ("type", "spec_version", "id")
Symbols = dict[bytes, int]  # position -> symbol read from a copy


def _item_key(item: Any) -> str:
    if isinstance(item, str):
        return item
    return hashlib.blake2b(dumps(item), digest_size=8).hexdigest()


def _pos(kind: bytes, stix_id: str, *parts: str) -> bytes:
    return b"\x1f".join((kind, stix_id.encode(), *(p.encode() for p in parts)))


@dataclass
class _Ctx:
    code: Code
    stix_id: str

    def base(self, what: str, keys: Iterable[str]) -> list[str]:
        sid = self.stix_id.encode()
        return sorted(keys, key=lambda k: self.code.order_key(sid, what.encode(), k.encode()))


def _deque_order(ctx: _Ctx, what: str, keys: list[str], bit: Callable[[bytes], int], kind: bytes) -> list[str]:
    base = ctx.base(what, keys)
    out: deque[str] = deque(base[:1])
    for k in base[1:]:
        if bit(_pos(kind, ctx.stix_id, what, k)):
            out.appendleft(k)
        else:
            out.append(k)
    return list(out)


def _deque_read(ctx: _Ctx, what: str, seen: list[str], kind: bytes, out: Symbols) -> None:
    if len(set(seen)) != len(seen) or len(seen) < 2:
        return
    base = ctx.base(what, seen)
    seq = list(seen)
    for k in reversed(base[1:]):
        p = _pos(kind, ctx.stix_id, what, k)
        if seq[0] == k:
            out[p] = 1
            seq.pop(0)
        elif seq[-1] == k:
            out[p] = 0
            seq.pop()
        else:
            out[p] = -1  # an erasure
            seq.remove(k)


def fingerprint(obj: dict[str, Any], partner: str, code: Code,
                frozen: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A copy of ``obj`` carrying ``partner``'s symbols; the same bytes every time for one partner."""

    def bit(p: bytes) -> int:
        return code.symbol(partner, p)

    return embed(obj, bit, code, frozen)


def embed(obj: dict[str, Any], bit: Callable[[bytes], int], code: Code,
          frozen: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A copy of ``obj`` with the symbol ``bit(position)`` at each position."""
    stix_id = str(obj.get("id", ""))
    ctx = _Ctx(code, stix_id)
    new: dict[str, Any] = {}
    for k, v in obj.items():
        if k in LIST_FIELDS and isinstance(v, list) and len(v) > 1:
            v = _order_list(ctx, k, v, bit)
        elif k in PROSE_FIELDS and isinstance(v, str) and v:
            v = _prose(v, bit, frozen)
        new[k] = v
    fixed = [k for k in FIXED_KEYS if k in new]
    rest = _deque_order(ctx, "", [k for k in new if k not in FIXED_KEYS], bit, b"K")
    return {k: new[k] for k in (*fixed, *rest)}


def prose_position(s: prose.Slot) -> bytes:
    """A prose slot's position: its class and context alone (not the object or property), so the
    same sentence carries the same symbol wherever it appears and an excerpt needs no object to be
    read; the objects it matched decide only who is scored."""
    return b"P\x1f" + s.name.encode()


def _prose(text: str, bit: Callable[[bytes], int], frozen: frozenset[str]) -> str:
    def choose(s: prose.Slot) -> int:
        return bit(prose_position(s))

    return prose.render(prose.read(text), choose, frozen)


def _order_list(ctx: _Ctx, field: str, items: list[Any], bit: Callable[[bytes], int]) -> list[Any]:
    keys = [_item_key(i) for i in items]
    if len(set(keys)) != len(keys):
        return items  # repeated items: order them not at all
    by_key = dict(zip(keys, items, strict=True))
    head = [keys[0]] if field in KEEP_FIRST else []
    order = head + _deque_order(ctx, field, keys[len(head):], bit, b"L")
    out = [by_key[k] for k in order]
    if field in ENTRY_ORDER:
        out = [_order_entry(ctx, field, k, e, bit) for k, e in zip(order, out, strict=True)]
    return out


def _order_entry(ctx: _Ctx, field: str, key: str, entry: Any, bit: Callable[[bytes], int]) -> Any:
    if not isinstance(entry, dict) or len(entry) < 2:
        return entry
    what = f"{field}/{key}"
    return {k: entry[k] for k in _deque_order(ctx, what, list(entry), bit, b"K")}


def symbols(obj: dict[str, Any], code: Code, *, stored: dict[str, Any] | None = None,
            places: Mapping[str, frozenset[str]] | None = None) -> Symbols:
    """The symbols a copy of an object carries (erasures as -1), keyed by position.

    A one-way prose choice counts only at a place where the stored text had its first form (a native
    second form is not a symbol): ``places`` per property (:func:`one_way_places`), or else those of
    ``stored``, the stored version the copy matches; with neither, one-way choices are not read."""
    stix_id = str(obj.get("id") or (stored or {}).get("id") or "")
    ctx = _Ctx(code, stix_id)
    out: Symbols = {}
    keys = [k for k in obj if k not in FIXED_KEYS]
    _deque_read(ctx, "", keys, b"K", out)
    for k, v in obj.items():
        if k in LIST_FIELDS and isinstance(v, list) and len(v) > 1:
            ks = [_item_key(i) for i in v]
            if len(set(ks)) != len(ks):
                continue
            _deque_read(ctx, k, ks[1:] if k in KEEP_FIRST else ks, b"L", out)
            if k in ENTRY_ORDER:
                for ik, e in zip(ks, v, strict=True):
                    if isinstance(e, dict):
                        _deque_read(ctx, f"{k}/{ik}", list(e), b"K", out)
        elif k in PROSE_FIELDS and isinstance(v, str):
            if places is not None:
                where = places.get(k)
            else:
                stored_text = (stored or {}).get(k)
                where = one_way_places(stored_text) if isinstance(stored_text, str) else None
            for s in prose.read(v).slots:
                put_prose(out, s, where)
    return out


def one_way_places(text: str) -> frozenset[str]:
    """Where a stored text has the first form of a one-way class (the only places it is a choice)."""
    return frozenset(s.name for s in prose.read(text).slots if not s.two_way and s.form == 0)


def put_prose(out: Symbols, s: prose.Slot, places: frozenset[str] | None) -> None:
    """The symbol of one prose slot (a one-way choice only where ``places`` says the stored text had
    its first form)."""
    if not s.two_way and (places is None or s.name not in places):
        return
    p = prose_position(s)
    out[p] = -1 if p in out and out[p] != s.form else s.form


def facts(obj: dict[str, Any]) -> dict[str, Any]:
    """What an object says, with every fingerprinting choice read as its class: list properties as
    sets, properties unordered, prose with each slot as its class. Equal for every partner's copy."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if k in LIST_FIELDS and isinstance(v, list):
            head = v[:1] if k in KEEP_FIRST else []
            rest = sorted(dumps(i) for i in v[len(head):])
            out[k] = [dumps(i) for i in head] + rest
        elif k in PROSE_FIELDS and isinstance(v, str):
            out[k] = prose.facts(v)
        else:
            out[k] = v
    return dict(sorted(out.items()))
