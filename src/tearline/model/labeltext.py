"""The text form of a :class:`~tearline.model.markings.Label`, both ways (CAPCO-like banners).

Written by hand rather than with a parser generator: the grammar is one line of ``//``-separated
segments, and a hand parser names the exact segment that is wrong in its error message.

Canonical form (each segment optional except the classification; see ``docs/labels.md``)::

    CLASSIFICATION[//REL TO A, B][//NOFORN][//ORCON][//TLP:COLOUR][//TOPICS a, b]
                  [//SOURCES s1, s2][//ORIGINATOR X][//FURTHER SHARING A, B]

Round trip: for every label :func:`format_label` accepts, ``parse_label(format_label(l)) == l``.
To make that exact, the text has one spelling per label:

* ``TLP:CLEAR`` is the default and is omitted (an absent TLP segment reads as CLEAR);
* ``further_sharing`` ``None`` is no segment, an empty set is ``FURTHER SHARING NONE`` and the set
  ``{"ALL"}`` is ``FURTHER SHARING ALL``; ``ALL`` cannot be mixed with codes, ``NONE`` is not a code;
* REL TO and FURTHER SHARING codes print in CAPCO order, topics and sources sorted.

:func:`format_label` refuses (``LabelError``) a label it cannot spell exactly: a partner code or topic
not in canonical form (``usa``, ``Russia``), a classification level outside the scheme. Parsing is
lenient on case and whitespace, accepts segments after the classification in any order, ``TLP:WHITE``
(TLP 1.0, read as CLEAR) and ``_`` for spaces in classification names (``TOP_SECRET``).

Source references are part of the text form (it is the node's own stored form); they are never
emitted to partners, which is the STIX mapping's job to guarantee, not this module's.
"""

from __future__ import annotations

import re

from tearline.errors import LabelError
from tearline.model.markings import DEFAULT_SCHEME, ClassificationScheme, Label, Tlp, capco_order
from tearline.model.partners import check_code

__all__ = ["check_label", "format_label", "parse_label"]

_TOPIC = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
_SEP = "//"
ALL = "ALL"
NONE = "NONE"

# Segment keywords, in canonical order; values follow the keyword after whitespace.
_KEYWORD = re.compile(
    r"^(REL\s+TO|TOPICS|SOURCES|ORIGINATOR|FURTHER\s+SHARING)(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL
)
_TLP = re.compile(r"^TLP\s*:\s*(.*)$", re.IGNORECASE | re.DOTALL)


def format_label(label: Label, scheme: ClassificationScheme = DEFAULT_SCHEME) -> str:
    """The canonical text of ``label``; raise ``LabelError`` if it has no exact text form."""
    check_label(label, scheme)
    parts = [scheme.name(label.classification)]
    if label.rel_to:
        parts.append("REL TO " + ", ".join(capco_order(label.rel_to)))
    if label.noforn:
        parts.append("NOFORN")
    if label.orcon:
        parts.append("ORCON")
    if label.tlp is not Tlp.CLEAR:
        parts.append("TLP:" + label.tlp.text)
    if label.topics:
        parts.append("TOPICS " + ", ".join(sorted(label.topics)))
    if label.source_refs:
        parts.append("SOURCES " + ", ".join(sorted(label.source_refs)))
    if label.originator is not None:
        parts.append("ORIGINATOR " + label.originator)
    if label.further_sharing is not None:
        parts.append("FURTHER SHARING " + _further_text(label.further_sharing))
    return _SEP.join(parts)


def _further_text(codes: frozenset[str]) -> str:
    if not codes:
        return NONE
    return ", ".join(capco_order(codes))


def check_label(label: Label, scheme: ClassificationScheme = DEFAULT_SCHEME) -> None:
    """Raise ``LabelError`` naming the first part of ``label`` that has no canonical spelling."""
    if not 0 <= label.classification <= scheme.top:
        raise LabelError(f"classification level `{label.classification}` is not in the scheme")
    try:
        scheme.name(label.classification)
    except ValueError as exc:
        raise LabelError(str(exc)) from None
    if not isinstance(label.tlp, Tlp):
        raise LabelError(f"tlp `{label.tlp}` is not a Tlp")
    for code in label.rel_to:
        _check_canonical_code(code, "REL TO")
    if label.originator is not None:
        _check_canonical_code(label.originator, "ORIGINATOR")
    if label.further_sharing is not None:
        codes = label.further_sharing
        if ALL in codes and len(codes) > 1:
            raise LabelError("`ALL` cannot be combined with partner codes in FURTHER SHARING")
        for code in codes:
            if code == NONE:
                raise LabelError("`NONE` is not a partner code in FURTHER SHARING")
            _check_canonical_code(code, "FURTHER SHARING")
    for topic in label.topics:
        if not _TOPIC.match(topic):
            raise LabelError(f"bad topic `{topic}` in TOPICS (lower case letters, digits, `_.-`)")
    for ref in label.source_refs:
        if not _SOURCE.match(ref):
            raise LabelError(f"bad source reference `{ref}` in SOURCES")


def _check_canonical_code(code: str, where: str) -> None:
    try:
        ok = check_code(code) == code
    except ValueError:
        ok = False
    if not ok:
        raise LabelError(f"bad partner code `{code}` in {where}")


def parse_label(text: str, scheme: ClassificationScheme = DEFAULT_SCHEME) -> Label:
    """Parse the text form; raise ``LabelError`` naming the offending part."""
    whole = " ".join(text.split())
    if not whole:
        raise LabelError("empty label")
    segments = [s.strip() for s in whole.split(_SEP)]
    where = f" in label `{whole}`"
    try:
        classification = scheme.level(segments[0])
    except ValueError:
        valid = ", ".join(scheme.names)
        raise LabelError(
            f"unknown classification `{segments[0]}`{where} (valid levels: {valid})"
        ) from None
    seen: set[str] = set()
    tlp = Tlp.CLEAR
    rel_to: frozenset[str] = frozenset()
    noforn = orcon = False
    topics: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    originator: str | None = None
    further: frozenset[str] | None = None
    for seg in segments[1:]:
        if not seg:
            raise LabelError(f"empty segment{where}")
        key, value = _split_segment(seg, where)
        if key in seen:
            raise LabelError(f"duplicate segment `{key}`{where}")
        seen.add(key)
        if key == "NOFORN":
            noforn = True
        elif key == "ORCON":
            orcon = True
        elif key == "TLP":
            try:
                tlp = Tlp.from_text(value)
            except ValueError:
                raise LabelError(f"unknown tlp `{value}`{where}") from None
        elif key == "REL TO":
            rel_to = frozenset(_code(c, key, where) for c in _items(value, key, where))
        elif key == "TOPICS":
            topics = frozenset(_topic(t, where) for t in _items(value, key, where))
        elif key == "SOURCES":
            sources = frozenset(_source(s, where) for s in _items(value, key, where))
        elif key == "ORIGINATOR":
            originator = _code(value, key, where)
        else:  # FURTHER SHARING
            further = _further(_items(value, key, where), where)
    return Label(
        classification=classification,
        tlp=tlp,
        rel_to=rel_to,
        noforn=noforn,
        orcon=orcon,
        topics=topics,
        source_refs=sources,
        originator=originator,
        further_sharing=further,
    )


def _split_segment(seg: str, where: str) -> tuple[str, str]:
    """The segment's keyword (canonical spelling) and its value text."""
    upper = seg.upper()
    if upper in ("NOFORN", "ORCON"):
        return upper, ""
    m = _TLP.match(seg)
    if m:
        return "TLP", m.group(1).strip()
    m = _KEYWORD.match(seg)
    if m:
        key = " ".join(m.group(1).upper().split())
        return key, (m.group(2) or "").strip()
    raise LabelError(f"unknown segment `{seg}`{where}")


def _items(value: str, key: str, where: str) -> list[str]:
    if not value:
        raise LabelError(f"`{key}` needs at least one value{where}")
    items = [v.strip() for v in value.split(",")]
    if any(not v for v in items):
        raise LabelError(f"empty item in `{key}`{where}")
    return items


def _code(text: str, key: str, where: str) -> str:
    try:
        return check_code(text)
    except ValueError:
        raise LabelError(f"bad partner code `{text}` in {key}{where}") from None


def _topic(text: str, where: str) -> str:
    topic = text.lower()
    if not _TOPIC.match(topic):
        raise LabelError(f"bad topic `{text}` in TOPICS{where}")
    return topic


def _source(text: str, where: str) -> str:
    if not _SOURCE.match(text):
        raise LabelError(f"bad source reference `{text}` in SOURCES{where}")
    return text


def _further(items: list[str], where: str) -> frozenset[str]:
    upper = [i.upper() for i in items]
    if upper == [NONE]:
        return frozenset()
    if upper == [ALL]:
        return frozenset({ALL})
    if ALL in upper or NONE in upper:
        raise LabelError(f"`ALL` and `NONE` stand alone in FURTHER SHARING{where}")
    return frozenset(_code(i, "FURTHER SHARING", where) for i in items)
