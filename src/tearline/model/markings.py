"""Releasability labels: classification, TLP 2.0, caveats, topics, source references.

A :class:`Label` is immutable; a changed label is a new label. The text form (CAPCO-like) is
documented in :mod:`tearline.model.labeltext`; the STIX 2.1 mapping lives in
:mod:`tearline.stix.markings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class Tlp(IntEnum):
    """TLP 2.0, ordered from least to most restrictive. TLP 1.0 WHITE reads as CLEAR."""

    CLEAR = 0
    GREEN = 1
    AMBER = 2
    AMBER_STRICT = 3
    RED = 4

    @property
    def text(self) -> str:
        return "AMBER+STRICT" if self is Tlp.AMBER_STRICT else self.name

    @classmethod
    def from_text(cls, text: str) -> Tlp:
        """``CLEAR``/``WHITE``/``GREEN``/``AMBER``/``AMBER+STRICT``/``RED``, any case, optional ``TLP:``."""
        t = text.strip().upper()
        if t.startswith("TLP:"):
            t = t[4:].strip()
        t = t.replace(" ", "")
        if t == "WHITE":
            return cls.CLEAR
        if t in ("AMBER+STRICT", "AMBER_STRICT", "AMBERSTRICT"):
            return cls.AMBER_STRICT
        try:
            return cls[t]
        except KeyError:
            choices = ", ".join(t.text for t in cls)
            raise ValueError(f"unknown tlp `{text}` (one of {choices})") from None


@dataclass(frozen=True)
class ClassificationScheme:
    """Ordered classification level names; a node may rename them, the order is what counts."""

    names: tuple[str, ...] = ("UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP SECRET")
    # ISA/ACS 3.0 `control_set.classification` codes for each level (U, C, S, TS; R has none in ACS
    # and is carried as C with the exact level in tearline's own extension property).
    acs_codes: tuple[str, ...] = ("U", "C", "C", "S", "TS")

    def level(self, name: str) -> int:
        """The level of a name (case-insensitive, ``_`` or space); raise ``ValueError`` if unknown."""
        key = " ".join(name.strip().upper().replace("_", " ").split())
        for i, n in enumerate(self.names):
            if n.upper() == key:
                return i
        raise ValueError(f"unknown classification `{name.strip()}` (one of {', '.join(self.names)})")

    def name(self, level: int) -> str:
        if not 0 <= level < len(self.names):
            raise ValueError(f"classification level {level} out of range")
        return self.names[level]

    @property
    def top(self) -> int:
        return len(self.names) - 1


DEFAULT_SCHEME = ClassificationScheme()


@dataclass(frozen=True)
class Label:
    """The releasability label of an item or of one field of it.

    ``rel_to`` empty means no REL TO caveat. ``originator`` ``None`` means this node.
    ``further_sharing`` ``None`` means the originator said nothing (then its REL TO and TLP decide);
    a set names whom a recipient may pass the item on to (``"ALL"`` for anyone).
    ``source_refs`` are vault ids and are never emitted.
    """

    classification: int = 0
    tlp: Tlp = Tlp.CLEAR
    rel_to: frozenset[str] = field(default_factory=frozenset)
    noforn: bool = False
    orcon: bool = False
    topics: frozenset[str] = field(default_factory=frozenset)
    source_refs: frozenset[str] = field(default_factory=frozenset)
    originator: str | None = None
    further_sharing: frozenset[str] | None = None

    def with_defaults(self, default: Label) -> Label:
        """Fill empty parts from a node default (topics and caveats are merged)."""
        return Label(
            classification=max(self.classification, default.classification),
            tlp=max(self.tlp, default.tlp),
            rel_to=self.rel_to or default.rel_to,
            noforn=self.noforn or default.noforn,
            orcon=self.orcon or default.orcon,
            topics=self.topics | default.topics,
            source_refs=self.source_refs | default.source_refs,
            originator=self.originator if self.originator is not None else default.originator,
            further_sharing=(
                self.further_sharing if self.further_sharing is not None else default.further_sharing
            ),
        )


def capco_order(codes: frozenset[str] | set[str]) -> list[str]:
    """Partner codes in CAPCO banner order: USA first, then the others alphabetically."""
    rest = sorted(c for c in codes if c != "USA")
    return (["USA"] if "USA" in codes else []) + rest


@dataclass(frozen=True)
class Portion:
    """A field-level label: a STIX granular-marking selector and the label of what it selects."""

    selector: str
    label: Label


@dataclass(frozen=True)
class MarkedItem:
    """An item's object-level label and its portion labels."""

    label: Label
    portions: tuple[Portion, ...] = ()
