"""Sources in the vault: the Admiralty grade, what may be shown of a source, and its true identity.

A :class:`SourceSummary` carries nothing secret (the cover name is public by design); a
:class:`SourceIdentity` is the decrypted secret part and exists only in memory.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from tearline.errors import InvalidInput

__all__ = [
    "COVER",
    "CSV_COLUMNS",
    "CSV_OPTIONAL",
    "FIELD_KINDS",
    "TERM_KINDS",
    "Grade",
    "SourceIdentity",
    "SourceRecord",
    "SourceSummary",
    "check_compartment",
    "check_cover",
    "parse_sources_csv",
]

COVER = re.compile(r"[A-Z][A-Z0-9_-]{1,31}")
_COMPARTMENT = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")

# The kinds of sealed field (``vault_fields.field``); every kind but ``note`` is a protected term.
FIELD_KINDS = ("name", "alias", "phone", "email", "address", "note", "term")
TERM_KINDS = ("name", "alias", "phone", "email", "address", "term")

_RELIABILITY = "ABCDEF"
_RELIABILITY_TEXT = {
    "A": "completely reliable",
    "B": "usually reliable",
    "C": "fairly reliable",
    "D": "not usually reliable",
    "E": "unreliable",
    "F": "reliability cannot be judged",
}


@dataclass(frozen=True, order=True)
class Grade:
    """An Admiralty (NATO) grade: source reliability A–F and information credibility 1–6."""

    reliability: str = "F"
    credibility: int = 6

    def __post_init__(self) -> None:
        if not (isinstance(self.reliability, str) and len(self.reliability) == 1 and self.reliability in _RELIABILITY):
            raise InvalidInput(f"bad reliability `{self.reliability}` (A to F)")
        cred = self.credibility
        if isinstance(cred, bool) or not isinstance(cred, int) or not 1 <= cred <= 6:
            raise InvalidInput(f"bad credibility `{self.credibility}` (1 to 6)")

    @classmethod
    def parse(cls, text: str) -> Grade:
        """``B2``, ``b2`` or ``B 2``; anything else is ``InvalidInput`` naming the text."""
        t = "".join(text.split()).upper()
        if len(t) != 2 or t[0] not in _RELIABILITY or t[1] not in "123456":
            raise InvalidInput(f"bad grade `{text}` (reliability A-F then credibility 1-6, e.g. `B2`)")
        return cls(t[0], int(t[1]))

    def __str__(self) -> str:
        return f"{self.reliability}{self.credibility}"

    @property
    def description(self) -> str:
        return _RELIABILITY_TEXT[self.reliability]


def check_cover(text: str) -> str:
    """The canonical (upper-case) cover name, or ``InvalidInput`` naming the text."""
    c = text.strip().upper()
    if not COVER.fullmatch(c):
        raise InvalidInput(
            f"bad cover name `{text}` (2-32 letters, digits, `_` or `-`, starting with a letter)"
        )
    return c


def check_compartment(text: str) -> str:
    c = text.strip().upper()
    if not _COMPARTMENT.fullmatch(c):
        raise InvalidInput(f"bad compartment `{text}` (1-32 letters, digits, `_` or `-`)")
    return c


@dataclass(frozen=True)
class SourceSummary:
    """What may be shown about a source inside the node without a recorded reveal."""

    id: str
    cover: str
    grade: Grade
    compartments: frozenset[str] = frozenset()
    term_count: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "cover": self.cover,
            "grade": str(self.grade),
            "compartments": sorted(self.compartments),
            "term_count": self.term_count,
        }


@dataclass(frozen=True)
class SourceIdentity:
    """The secret part of a source: who it is and how to reach it. Never stored in the clear."""

    name: str
    aliases: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()  # extra protected terms (code names, places)

    def fields(self) -> list[tuple[str, str]]:
        """(kind, value) of every value, in a defined order (the order they are stored in)."""
        out = [("name", self.name)]
        for kind, values in (
            ("alias", self.aliases),
            ("phone", self.phones),
            ("email", self.emails),
            ("address", self.addresses),
            ("note", self.notes),
            ("term", self.terms),
        ):
            out.extend((kind, v) for v in values)
        return out

    @classmethod
    def from_fields(cls, pairs: list[tuple[str, str]]) -> SourceIdentity:
        by: dict[str, list[str]] = {k: [] for k in FIELD_KINDS}
        for kind, value in pairs:
            if kind not in by:
                raise InvalidInput(f"unknown vault field kind `{kind}`")
            by[kind].append(value)
        names = by["name"]
        return cls(
            name=names[0] if names else "",
            aliases=tuple(names[1:] + by["alias"]),
            phones=tuple(by["phone"]),
            emails=tuple(by["email"]),
            addresses=tuple(by["address"]),
            notes=tuple(by["note"]),
            terms=tuple(by["term"]),
        )

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "phones": list(self.phones),
            "emails": list(self.emails),
            "addresses": list(self.addresses),
            "notes": list(self.notes),
            "terms": list(self.terms),
        }


# -- CSV import -----------------------------------------------------------------------------------
CSV_COLUMNS = ("cover", "name", "aliases", "phones", "emails", "grade", "compartments")
CSV_OPTIONAL = ("addresses", "notes")


@dataclass(frozen=True)
class SourceRecord:
    """One source read from CSV, with the line it ends on (for errors that must not quote it)."""

    line: int
    cover: str
    identity: SourceIdentity
    grade: Grade | None
    compartments: tuple[str, ...]


def parse_sources_csv(text: str) -> list[SourceRecord]:
    """Records of a sources CSV: a header naming :data:`CSV_COLUMNS` (any order, plus optional
    :data:`CSV_OPTIONAL`), then one source per row; several values in one cell are separated by
    ``;``; an empty grade means F6. Errors name the line and never quote a cell but the grade."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip().lower() for h in reader.fieldnames or []]
    except csv.Error:
        raise InvalidInput("line 1: not valid CSV") from None
    if any(c not in header for c in CSV_COLUMNS) or any(c not in CSV_COLUMNS + CSV_OPTIONAL for c in header):
        raise InvalidInput(
            f"line 1: the header needs columns {', '.join(CSV_COLUMNS)} (optional {', '.join(CSV_OPTIONAL)})"
        )
    reader.fieldnames = header
    out: list[SourceRecord] = []
    try:
        for row in reader:
            line = reader.line_num
            if None in row or any(v is None for v in row.values()):
                raise InvalidInput(f"line {line}: wrong number of cells")
            try:
                grade = Grade.parse(row["grade"]) if row["grade"].strip() else None
            except InvalidInput as exc:
                raise InvalidInput(f"line {line}: {exc.message}") from None
            identity = SourceIdentity(
                name=row["name"].strip(),
                aliases=_cells(row["aliases"]),
                phones=_cells(row["phones"]),
                emails=_cells(row["emails"]),
                addresses=_cells(row.get("addresses")),
                notes=_cells(row.get("notes")),
            )
            out.append(SourceRecord(line, row["cover"], identity, grade, _cells(row["compartments"])))
    except csv.Error:
        raise InvalidInput(f"line {reader.line_num}: not valid CSV") from None
    return out


def _cells(text: str | None) -> tuple[str, ...]:
    return tuple(c.strip() for c in (text or "").split(";") if c.strip())
