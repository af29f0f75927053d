"""The tearline: the version of one STIX object that one recipient may see. Pure, deterministic.

Written by hand because no STIX library removes granular-marked portions or dangling references:

1. **portions**: a field selected (STIX 2.1 §7.2.3 granular-marking selector, ``a.b``,
   ``a.[0].b``) by a portion whose label the recipient may not see is dropped. A drop that would
   break the structure it sits in is widened: an external reference without ``source_name`` or
   without any of ``description``/``url``/``external_id``, or a kill-chain phase missing a name, goes
   whole; a list or dictionary left empty goes too (STIX forbids empty lists).
2. **references**: an id alone tells that something exists, so ``*_ref`` values and ``*_refs``
   items (``object_refs`` included, at any depth) that the recipient may not see are dropped.
   Markings (``object_marking_refs``, ``granular_markings``) are not references to content and are
   left to the marking stage. A relationship or sighting whose endpoint is not visible is withheld
   (``REF_WITHHELD:<property>``).
3. **required properties**: if a drop would remove a property STIX 2.1 requires of the object's
   type (``report.object_refs`` left empty, ``indicator.pattern``, ``name``, ``id`` ...), the object
   is withheld instead (``REQUIRED_PROPERTY_WITHHELD:<property>``).
4. **source tokens**: every ``{{source:COVER}}`` in a string becomes ``source_text(COVER)``. A token
   left over (malformed, or in a key) withholds the object rather than leak the cover's shape.
5. **markings that pointed at dropped fields**: ``granular_markings`` selectors are re-pointed after
   list items are removed (``[2]`` becomes ``[1]``), selectors into dropped fields are removed, and
   an entry left with no selector goes. :attr:`TearlineResult.portions` are the visible portions with
   their selectors re-pointed the same way, for the marking stage.

An invisible portion whose selector selects nothing withholds the object (``SELECTOR_UNRESOLVED``):
the object is not what its markings say, and guessing would risk releasing the marked text.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from tearline.model.markings import Label, MarkedItem, Portion
from tearline.model.releases import Reason
from tearline.stix.validate import REQUIRED, SCO_REQUIRED

__all__ = [
    "SOURCE_TOKEN",
    "TearlineResult",
    "format_selector",
    "make_tearline",
    "parse_selector",
    "required_properties",
]

# The same pattern as tearline.services.intake.SOURCE_TOKEN (a test holds them equal).
SOURCE_TOKEN = re.compile(r"\{\{source:([A-Za-z0-9_-]{1,64})\}\}")
TOKEN_START = "{{source:"
UNRESOLVED = "SELECTOR_UNRESOLVED"
TOKEN_LEFT = "SOURCE_TOKEN_UNRESOLVED"

Step = str | int
Path = tuple[Step, ...]

_COMMON = ("type", "id", "spec_version", "created", "modified")
# STIX 2.1's required properties per type: one table, shared with intake validation
_REQUIRED: dict[str, tuple[str, ...]] = {**REQUIRED, **SCO_REQUIRED}
_ENDPOINTS = {"relationship": ("source_ref", "target_ref"), "sighting": ("sighting_of_ref",)}
# Items of these lists are STIX sub-objects with required keys of their own.
_ITEM_REQUIRED = {"external_references": ("source_name",), "kill_chain_phases": ("kill_chain_name", "phase_name")}
_ITEM_NEEDS_ONE = {"external_references": ("description", "url", "external_id")}
_NOT_REFS = ("object_marking_refs", "granular_markings")


@dataclass(frozen=True)
class TearlineResult:
    obj: dict[str, Any] | None  # None: withheld
    withheld_reason: str | None
    dropped: tuple[str, ...]  # selectors (in the original object) of what was removed
    portions: tuple[Portion, ...] = ()  # visible portions, selectors re-pointed into ``obj``


class _Withhold(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def required_properties(obj: dict[str, Any]) -> frozenset[str]:
    """Top-level properties STIX 2.1 requires of this object (of those it can be asked to drop)."""
    req = set(_COMMON) | set(_REQUIRED.get(str(obj.get("type")), ()))
    if obj.get("type") == "malware" and obj.get("is_family") is True:
        req.add("name")
    return frozenset(req)


def parse_selector(selector: str) -> Path | None:
    """``a.[0].b`` as ``("a", 0, "b")``; None if it is not a selector."""
    steps: list[Step] = []
    for step in selector.split("."):
        if step.startswith("[") and step.endswith("]") and step[1:-1].isdigit():
            steps.append(int(step[1:-1]))
        elif step and "[" not in step and "]" not in step:
            steps.append(step)
        else:
            return None
    return tuple(steps)


def format_selector(path: Path) -> str:
    return ".".join(f"[{s}]" if isinstance(s, int) else s for s in path)


def _lookup(obj: Any, path: Path) -> tuple[bool, Any]:
    cur = obj
    for step in path:
        in_list = isinstance(step, int) and isinstance(cur, list) and step < len(cur)
        if in_list or (isinstance(step, str) and isinstance(cur, dict) and step in cur):
            cur = cur[step]
        else:
            return False, None
    return True, cur


class _Cut:
    """The set of paths removed from one object, with the widening and required-property rules."""

    def __init__(self, obj: dict[str, Any]) -> None:
        self.obj = obj
        self.required = required_properties(obj)
        self.removed: set[Path] = set()

    def gone(self, path: Path) -> bool:
        return any(path[:i] in self.removed for i in range(1, len(path) + 1))

    def remove(self, path: Path, reason: str | None = None) -> None:
        if self.gone(path):
            return
        if (
            len(path) >= 3
            and isinstance(path[-2], int)
            and isinstance(path[-3], str)
            and path[-1] in _ITEM_REQUIRED.get(path[-3], ())
        ):
            self.remove(path[:-1], reason)
            return
        if len(path) == 1 and path[0] in self.required:
            raise _Withhold(reason or f"{Reason.REQUIRED_PROPERTY}:{path[0]}")
        self.removed.add(path)
        parent = path[:-1]
        if parent and self._hollow(parent):
            self.remove(parent, reason)

    def _hollow(self, parent: Path) -> bool:
        _, value = _lookup(self.obj, parent)
        children: list[Step] = list(value) if isinstance(value, dict) else list(range(len(value)))
        left = [c for c in children if (*parent, c) not in self.removed]
        if not left:
            return True
        if len(parent) >= 2 and isinstance(parent[-1], int) and isinstance(parent[-2], str):
            one_of = _ITEM_NEEDS_ONE.get(parent[-2])
            if one_of and not any(k in left for k in one_of):
                return True
        return False

    def remap(self, path: Path) -> Path | None:
        """Where ``path`` is once removed paths are taken out; None if it went with them."""
        if self.gone(path):
            return None
        out: list[Step] = []
        for i, step in enumerate(path):
            if isinstance(step, int):
                prefix, index = path[:i], step
                step -= sum(1 for r in self.removed if len(r) == i + 1 and r[:i] == prefix and _before(r[i], index))
            out.append(step)
        return tuple(out)

    def compact(self, value: Any, path: Path = ()) -> Any:
        if isinstance(value, dict):
            return {k: self.compact(v, (*path, k)) for k, v in value.items() if (*path, k) not in self.removed}
        if isinstance(value, list):
            return [self.compact(v, (*path, i)) for i, v in enumerate(value) if (*path, i) not in self.removed]
        return value


def _before(step: Step, index: int) -> bool:
    return isinstance(step, int) and step < index


def _refs(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """(path, id) of every reference in document order (sorted keys), markings excepted."""
    if isinstance(value, dict):
        for key in sorted(value):
            if key in _NOT_REFS:
                continue
            v, p = value[key], (*path, key)
            if key.endswith("_ref") and isinstance(v, str):
                yield p, v
            elif key.endswith("_refs") and isinstance(v, list):
                for i, ref in enumerate(v):
                    if isinstance(ref, str):
                        yield (*p, i), ref
                    else:
                        yield from _refs(ref, (*p, i))
            else:
                yield from _refs(v, p)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _refs(v, (*path, i))


def _replace_tokens(value: Any, source_text: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        if TOKEN_START not in value:
            return value
        return SOURCE_TOKEN.sub(lambda m: source_text(m.group(1).upper()), value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if TOKEN_START in k:
                raise _Withhold(TOKEN_LEFT)
            out[k] = _replace_tokens(v, source_text)
        return out
    if isinstance(value, list):
        return [_replace_tokens(v, source_text) for v in value]
    return value


def _has_token(value: Any) -> bool:
    if isinstance(value, str):
        return TOKEN_START in value
    if isinstance(value, dict):
        return any(TOKEN_START in k or _has_token(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_token(v) for v in value)
    return False


def _sort_key(path: Path) -> tuple[tuple[int, int, str], ...]:
    return tuple((1, s, "") if isinstance(s, int) else (0, 0, s) for s in path)


def _fix_granular(out: dict[str, Any], cut: _Cut) -> None:
    granular = out.get("granular_markings")
    if not isinstance(granular, list) or not granular:
        return
    kept: list[Any] = []
    for g in granular:
        if not isinstance(g, dict) or not isinstance(g.get("selectors"), list):
            kept.append(g)
            continue
        selectors = []
        for sel in g["selectors"]:
            path = parse_selector(sel) if isinstance(sel, str) else None
            moved = cut.remap(path) if path is not None else None
            if moved is not None and _lookup(out, moved)[0]:
                selectors.append(format_selector(moved))
        if selectors:
            kept.append({**g, "selectors": selectors})
    if kept:
        out["granular_markings"] = kept
    else:
        out.pop("granular_markings", None)


def make_tearline(
    obj: dict[str, Any],
    item: MarkedItem,
    *,
    portion_visible: Callable[[Label], bool],
    ref_visible: Callable[[str], bool],
    source_text: Callable[[str], str],
) -> TearlineResult:
    """The version of ``obj`` one recipient may see, or why it is withheld (see the module doc)."""
    cut = _Cut(obj)
    visible: list[tuple[Portion, Path | None]] = []
    try:
        for portion in item.portions:
            path = parse_selector(portion.selector)
            if portion_visible(portion.label):
                visible.append((portion, path))
                continue
            if path is None or not _lookup(obj, path)[0]:
                raise _Withhold(f"{UNRESOLVED}:{portion.selector}")
            cut.remove(path)
        endpoints = _ENDPOINTS.get(str(obj.get("type")), ())
        for path, ref in _refs(obj, ()):
            if cut.gone(path) or ref_visible(ref):
                continue
            if len(path) == 1 and path[0] in endpoints:
                raise _Withhold(f"{Reason.REF_WITHHELD}:{path[0]}")
            cut.remove(path)
        out = cut.compact(copy.deepcopy(obj))
        out = _replace_tokens(out, source_text)
        if _has_token(out):
            raise _Withhold(TOKEN_LEFT)
    except _Withhold as w:
        return TearlineResult(obj=None, withheld_reason=w.reason, dropped=())
    _fix_granular(out, cut)
    portions = []
    for portion, path in visible:
        moved = cut.remap(path) if path is not None else None
        if moved is not None and _lookup(out, moved)[0]:
            portions.append(replace(portion, selector=format_selector(moved)))
    tops = [p for p in cut.removed if not any(p[:i] in cut.removed for i in range(1, len(p)))]
    dropped = tuple(format_selector(p) for p in sorted(tops, key=_sort_key))
    return TearlineResult(obj=out, withheld_reason=None, dropped=dropped, portions=tuple(portions))
