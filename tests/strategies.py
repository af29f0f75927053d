"""Hypothesis strategies (and the fixed values they draw around) shared by several test modules.

Test modules import these from here, never from one another.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from tearline.model.markings import DEFAULT_SCHEME, Label, MarkedItem, Portion, Tlp
from tearline.model.partners import TrustProfile

# -- policy: labels, items, profiles and times for decide() and the vectorised engine ---------------

PARTNER_CODES = ["USA", "GBR", "CAN", "AUS", "NZL"]
TOPIC_NAMES = ["russia", "china", "iran", "ransomware", "phishing"]
BASE = datetime(2026, 6, 1, tzinfo=UTC)


def _codes(pool: list[str]) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(pool), max_size=3)


@st.composite
def policy_labels(draw: st.DrawFn) -> Label:
    fs = draw(st.none() | _codes([*PARTNER_CODES, "ALL"]))
    return Label(
        classification=draw(st.integers(0, 4)),
        tlp=draw(st.sampled_from(list(Tlp))),
        rel_to=draw(_codes(PARTNER_CODES)),
        noforn=draw(st.booleans()),
        orcon=draw(st.booleans()),
        topics=draw(_codes(TOPIC_NAMES)),
        source_refs=draw(st.sampled_from([frozenset(), frozenset({"vault-1"})])),
        originator=draw(st.none() | st.sampled_from(PARTNER_CODES)),
        further_sharing=fs,
    )


@st.composite
def policy_items(draw: st.DrawFn) -> MarkedItem:
    portions = draw(st.lists(policy_labels(), max_size=2))
    return MarkedItem(draw(policy_labels()), tuple(Portion(f"/p{i}", p) for i, p in enumerate(portions)))


@st.composite
def profiles(draw: st.DrawFn, partner: str | None = None) -> TrustProfile:
    return TrustProfile(
        partner=partner or draw(st.sampled_from([*PARTNER_CODES, "FRA"])),  # FRA: in no label
        clearance=draw(st.integers(0, 4)),
        tlp_ceiling=draw(st.sampled_from(list(Tlp))),
        excluded_topics=draw(st.frozensets(st.sampled_from([*TOPIC_NAMES, "unknown-topic"]), max_size=3)),
        embargo=draw(st.sampled_from([timedelta(0), timedelta(seconds=-5), timedelta(hours=1), timedelta(days=2)])),
        sanitised_only=draw(st.booleans()),
        suspended=draw(st.booleans()),
    )


def times() -> st.SearchStrategy[datetime]:
    """Times near ``BASE`` and near the embargo boundaries (BASE + 1 h, + 2 days, to the microsecond)."""
    offsets = st.sampled_from([0, 1, -1]).map(lambda d: timedelta(microseconds=d))
    anchors = st.sampled_from([timedelta(0), timedelta(hours=1), timedelta(days=2), timedelta(days=3)])
    return st.builds(lambda a, o: BASE + a + o, anchors, offsets)


# -- STIX markings: labels and items as they round-trip through markings, and the object they mark --

CREATED = "2026-11-29T10:00:00.000Z"
ME = "identity--0b9a7a4a-2a43-4a8e-9d36-3d1e5b5b1c11"
OBJ: dict[str, Any] = {
    "type": "indicator",
    "spec_version": "2.1",
    "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "created": "2026-01-01T00:00:00.000Z",
    "modified": "2026-01-01T00:00:00.000Z",
    "name": "c2 server",
    "description": "seen by a source",
    "pattern": "[ipv4-addr:value = '198.51.100.1']",
    "pattern_type": "stix",
    "valid_from": "2026-01-01T00:00:00Z",
    "external_references": [
        {"source_name": "x", "url": "https://example.org/a", "hashes": {"SHA-256": "ab" * 32}}
    ],
}
SELECTORS = ["name", "description", "pattern", "external_references.[0].url", "external_references"]
_STIX_CODES = st.sampled_from(["USA", "GBR", "CAN", "AUS", "NZL", "NATO", "EU-CERT"])


@st.composite
def stix_labels(draw: st.DrawFn, sources: bool = False) -> Label:
    return Label(
        classification=draw(st.integers(0, DEFAULT_SCHEME.top)),
        tlp=draw(st.sampled_from(Tlp)),
        rel_to=draw(st.frozensets(_STIX_CODES, max_size=4)),
        noforn=draw(st.booleans()),
        orcon=draw(st.booleans()),
        topics=draw(
            st.frozensets(st.sampled_from(["russia", "ransomware", "apt-29", "c2.infra"]), max_size=3)
        ),
        source_refs=draw(st.frozensets(st.sampled_from(["src-7", "vault:42"]), max_size=2))
        if sources
        else frozenset(),
        originator=draw(st.none() | _STIX_CODES),
        further_sharing=draw(
            st.none()
            | st.just(frozenset[str]())
            | st.just(frozenset({"ALL"}))
            | st.frozensets(_STIX_CODES, min_size=1, max_size=3)
        ),
    )


@st.composite
def stix_items(draw: st.DrawFn) -> MarkedItem:
    selectors = draw(st.lists(st.sampled_from(SELECTORS), unique=True, max_size=3))
    return MarkedItem(draw(stix_labels()), tuple(Portion(s, draw(stix_labels())) for s in selectors))


# -- the protected-term gate: ways to disguise a term so it slips past a naive filter ---------------

# Cyrillic and Greek look-alikes that Unicode TS #39 folds to the Latin letter
HOMOGLYPHS = {
    "a": "аα",
    "e": "е",
    "i": "іι",
    "o": "оο",
    "p": "р",
    "c": "с",
    "x": "х",
    "y": "у",
    "s": "ѕ",
    "n": "η",
    "r": "г",
}
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u202c"]
SPACES = [" ", "\u00a0", "\u3000", "\u2028", "\u2029", "\t", "\n", "  ", "\u2007"]
ACCENTS = ["\u0301", "\u0300", "\u0308", "\u0327", "\u030c"]
LETTERS = "abceilnorst"


@st.composite
def disguise(draw: st.DrawFn, term: str) -> str:
    """The term as someone might write it to slip past a filter (every variant keeps its meaning)."""
    out = []
    for ch in term:
        if ch == " ":
            out.append(draw(st.sampled_from(SPACES)))
            continue
        form = draw(st.sampled_from(["plain", "upper", "glyph", "wide", "accent"]))
        if form == "upper":
            ch = ch.upper()
        elif form == "glyph" and ch in HOMOGLYPHS:
            ch = draw(st.sampled_from(HOMOGLYPHS[ch]))
        elif form == "wide":
            ch = chr(ord(ch) + 0xFEE0)
        elif form == "accent":
            ch += draw(st.sampled_from(ACCENTS))
        out.append(ch)
        if draw(st.booleans()):
            out.append(draw(st.sampled_from(ZERO_WIDTH)))
    return "".join(out)
