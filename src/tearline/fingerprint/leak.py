"""What a leak looks like in practice, read into STIX objects and free text.

Accepted: a STIX bundle or a single object, a TAXII envelope, a JSON list of objects, a MISP event
(``{"Event": ...}``, or a ``{"response": [...]}`` list of them), and anything else as text (plain
text, an excerpt copied from a PDF or a web page, re-wrapped, re-cased, partly quoted).

JSON is read with the property order it was written in (the order is one of the choices that carry
a fingerprint). MISP keeps no STIX property order: from an event, the text of its ``info``,
comments, values and descriptions is read as prose, and the UUIDs of its attributes and objects are
kept as hints to the STIX objects they came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["Leak", "read_leak"]

_TEXT_KEYS = frozenset({"info", "comment", "value", "description", "text", "summary", "content", "abstract"})
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


@dataclass
class Leak:
    """The parts of one leaked file: STIX objects (with an ``id``) and free text."""

    source: str
    kind: str  # "stix", "misp" or "text"
    objects: list[dict[str, Any]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    uuids: set[str] = field(default_factory=set)


def read_leak(data: bytes, source: str = "<leak>") -> Leak:
    """Read one leaked file; never raises on content (what is not JSON is text)."""
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            value = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            value = None
        if value is not None:
            leak = _from_json(value, source)
            if leak is not None:
                return leak
    return Leak(source, "text", texts=[text] if stripped else [])


def _from_json(value: Any, source: str) -> Leak | None:
    if isinstance(value, dict) and ("Event" in value or "response" in value):
        events = [value["Event"]] if "Event" in value else [
            e.get("Event", e) for e in value.get("response") or [] if isinstance(e, dict)
        ]
        leak = Leak(source, "misp")
        for e in events:
            _misp(e, leak)
        return leak
    objs: list[Any]
    if isinstance(value, dict) and isinstance(value.get("objects"), list):
        objs = value["objects"]  # a bundle or a TAXII envelope
    elif isinstance(value, dict) and "type" in value and "id" in value:
        objs = [value]
    elif isinstance(value, list):
        objs = value
    else:
        return None
    found = [o for o in objs if isinstance(o, dict) and isinstance(o.get("id"), str) and "--" in o["id"]]
    if not found:
        return None
    return Leak(source, "stix", objects=found)


def _misp(node: Any, leak: Leak) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, str):
                if k in _TEXT_KEYS and len(v.split()) >= 4:
                    leak.texts.append(v)
                elif k == "uuid" and _UUID.match(v):
                    leak.uuids.add(v.lower())
            else:
                _misp(v, leak)
    elif isinstance(node, list):
        for v in node:
            _misp(v, leak)
