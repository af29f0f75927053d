"""A field-level difference between the full object and the version a partner receives.

Dictionaries are compared key by key (paths like ``external_references[0].url``); lists of the same
length element by element; anything else as a whole value. The order of the result is defined
(paths sorted), so the same pair always shows the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tearline.canonical import dumps

MAX_SHOWN = 160


@dataclass(frozen=True)
class FieldChange:
    path: str
    kind: str  # removed | added | changed
    full: str | None
    released: str | None


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else dumps(value).decode("utf-8")
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def field_diff(full: Any, released: Any, path: str = "") -> list[FieldChange]:
    out: list[FieldChange] = []
    if isinstance(full, dict) and isinstance(released, dict):
        for key in sorted(set(full) | set(released)):
            p = f"{path}.{key}" if path else key
            if key not in released:
                out.append(FieldChange(p, "removed", _show(full[key]), None))
            elif key not in full:
                out.append(FieldChange(p, "added", None, _show(released[key])))
            else:
                out.extend(field_diff(full[key], released[key], p))
    elif isinstance(full, list) and isinstance(released, list) and len(full) == len(released):
        for i, (a, b) in enumerate(zip(full, released, strict=True)):
            out.extend(field_diff(a, b, f"{path}[{i}]"))
    elif isinstance(full, list) and isinstance(released, list) and _scalars(full) and _scalars(released):
        gone = [v for v in full if v not in released]
        new = [v for v in released if v not in full]
        out.append(FieldChange(path or "$", "changed", "only here: " + _show(gone) if gone else "(all kept)",
                               "only here: " + _show(new) if new else "(nothing added)"))
    elif isinstance(full, str) and isinstance(released, str) and full != released:
        a, b = _around(full, released)
        out.append(FieldChange(path or "$", "changed", a, b))
    elif full != released:
        out.append(FieldChange(path or "$", "changed", _show(full), _show(released)))
    return out


def _scalars(values: list[Any]) -> bool:
    return all(isinstance(v, str | int | float | bool) for v in values)


def _around(a: str, b: str, context: int = 40) -> tuple[str, str]:
    """The differing middle of two strings with some context either side, for reading."""
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[len(a) - 1 - end] == b[len(b) - 1 - end]:
        end += 1
    lo = max(0, start - context)

    def cut(s: str) -> str:
        hi = min(len(s), len(s) - end + context)
        return ("…" if lo else "") + _show(s[lo:hi]) + ("…" if hi < len(s) else "")

    return cut(a), cut(b)
