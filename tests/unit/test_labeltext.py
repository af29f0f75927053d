"""The label text form: exact round trip, canonical spelling, leniency, errors that name the part."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tearline.errors import LabelError
from tearline.model.labeltext import check_label, format_label, parse_label
from tearline.model.markings import DEFAULT_SCHEME, ClassificationScheme, Label, Tlp

CODES = st.one_of(
    st.sampled_from(["USA", "GBR", "CAN", "AUS", "NZL", "NATO", "EU-CERT", "DEU"]),
    st.from_regex(r"[A-Z][A-Z0-9-]{1,15}", fullmatch=True),
)
FURTHER_CODES = CODES.filter(lambda c: c not in ("ALL", "NONE"))
TOPICS = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,12}", fullmatch=True)
SOURCES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}", fullmatch=True)
OTHER_SCHEME = ClassificationScheme(names=("OFFICIAL", "SECRET", "TOP SECRET"), acs_codes=("U", "S", "TS"))


@st.composite
def labels(draw: st.DrawFn, scheme: ClassificationScheme = DEFAULT_SCHEME, sources: bool = True) -> Label:
    further = draw(
        st.one_of(
            st.none(),
            st.just(frozenset[str]()),
            st.just(frozenset({"ALL"})),
            st.frozensets(FURTHER_CODES, min_size=1, max_size=4),
        )
    )
    return Label(
        classification=draw(st.integers(0, scheme.top)),
        tlp=draw(st.sampled_from(Tlp)),
        rel_to=draw(st.frozensets(CODES, max_size=5)),
        noforn=draw(st.booleans()),
        orcon=draw(st.booleans()),
        topics=draw(st.frozensets(TOPICS, max_size=4)),
        source_refs=draw(st.frozensets(SOURCES, max_size=3)) if sources else frozenset(),
        originator=draw(st.none() | CODES),
        further_sharing=further,
    )


@settings(max_examples=300, deadline=None)
@given(labels())
def test_text_round_trips_exactly(label: Label) -> None:
    text = format_label(label)
    assert parse_label(text) == label
    assert format_label(parse_label(text)) == text


@settings(max_examples=100, deadline=None)
@given(labels(OTHER_SCHEME))
def test_round_trip_with_a_renamed_scheme(label: Label) -> None:
    assert parse_label(format_label(label, OTHER_SCHEME), OTHER_SCHEME) == label


@settings(max_examples=200, deadline=None)
@given(labels(sources=False), st.randoms(use_true_random=False))
def test_parsing_is_lenient_on_case_whitespace_and_segment_order(label: Label, rnd: random.Random) -> None:
    first, *rest = format_label(label).split("//")
    rnd.shuffle(rest)
    mangled = "  //  ".join(
        [first.lower().replace(" ", "_"), *(s.lower().replace(", ", " ,\t") for s in rest)]
    )
    assert parse_label(mangled) == label


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("SECRET//REL TO USA, GBR//ORCON", "SECRET//REL TO USA, GBR//ORCON"),
        ("secret//rel to gbr,aus , usa", "SECRET//REL TO USA, AUS, GBR"),
        (
            "UNCLASSIFIED//TLP:AMBER+STRICT//TOPICS russia, Ransomware",
            "UNCLASSIFIED//TLP:AMBER+STRICT//TOPICS ransomware, russia",
        ),
        ("TOP_SECRET//NOFORN", "TOP SECRET//NOFORN"),
        ("top  secret // tlp : amber", "TOP SECRET//TLP:AMBER"),
        ("UNCLASSIFIED//TLP:WHITE", "UNCLASSIFIED"),
        ("UNCLASSIFIED//TLP:CLEAR", "UNCLASSIFIED"),
        ("RESTRICTED//FURTHER SHARING all", "RESTRICTED//FURTHER SHARING ALL"),
        ("RESTRICTED//further sharing none", "RESTRICTED//FURTHER SHARING NONE"),
        ("SECRET//ORCON//REL TO NZL, USA", "SECRET//REL TO USA, NZL//ORCON"),
        ("SECRET//SOURCES src-2, SRC-1//ORIGINATOR gbr", "SECRET//SOURCES SRC-1, src-2//ORIGINATOR GBR"),
    ],
)
def test_canonical_spelling(text: str, canonical: str) -> None:
    assert format_label(parse_label(text)) == canonical


def test_parsed_parts() -> None:
    label = parse_label("CONFIDENTIAL//REL TO GBR, usa//NOFORN//TLP:white//FURTHER SHARING CAN")
    assert label == Label(
        classification=2,
        tlp=Tlp.CLEAR,
        rel_to=frozenset({"USA", "GBR"}),
        noforn=True,
        further_sharing=frozenset({"CAN"}),
    )
    assert parse_label("SECRET").further_sharing is None
    assert parse_label("SECRET//FURTHER SHARING NONE").further_sharing == frozenset()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SECRETT//NOFORN", "unknown classification `SECRETT` in label `SECRETT//NOFORN`"),
        ("SECRET//FOO", "unknown segment `FOO` in label `SECRET//FOO`"),
        ("SECRET//REL TO USA, u$a", "bad partner code `u$a` in REL TO"),
        ("SECRET//NOFORN//NOFORN", "duplicate segment `NOFORN`"),
        ("SECRET//TLP:RED//tlp:amber", "duplicate segment `TLP`"),
        ("", "empty label"),
        (" \t\n", "empty label"),
        ("SECRET////NOFORN", "empty segment"),
        ("SECRET//TLP:PURPLE", "unknown tlp `PURPLE`"),
        ("SECRET//TOPICS ok, bad topic!", "bad topic `bad topic!` in TOPICS"),
        ("SECRET//REL TO", "`REL TO` needs at least one value"),
        ("SECRET//REL TO USA,,GBR", "empty item in `REL TO`"),
        ("SECRET//ORIGINATOR USA, GBR", "bad partner code `USA, GBR` in ORIGINATOR"),
        ("SECRET//FURTHER SHARING ALL, USA", "`ALL` and `NONE` stand alone in FURTHER SHARING"),
        ("SECRET//SOURCES a/b", "bad source reference `a/b` in SOURCES"),
        ("SECRET//SOURCES a//b", "unknown segment `b`"),
        ("SECRET//SOURCES a b", "bad source reference `a b` in SOURCES"),
    ],
)
def test_bad_text_names_the_offending_part(text: str, message: str) -> None:
    with pytest.raises(LabelError) as err:
        parse_label(text)
    assert message in str(err.value)
    assert err.value.code == "invalid_label"
    assert not str(err.value).endswith(".")


@pytest.mark.parametrize(
    ("label", "message"),
    [
        (Label(classification=5), "classification level `5` is not in the scheme"),
        (Label(topics=frozenset({"Russia"})), "bad topic `Russia`"),
        (Label(rel_to=frozenset({"usa"})), "bad partner code `usa` in REL TO"),
        (Label(originator="u$a"), "bad partner code `u$a` in ORIGINATOR"),
        (Label(further_sharing=frozenset({"ALL", "USA"})), "`ALL` cannot be combined"),
        (Label(further_sharing=frozenset({"NONE"})), "`NONE` is not a partner code"),
        (Label(source_refs=frozenset({"a//b"})), "bad source reference `a//b`"),
    ],
)
def test_labels_without_an_exact_text_are_refused(label: Label, message: str) -> None:
    with pytest.raises(LabelError, match=re.escape(message)):
        format_label(label)
    with pytest.raises(LabelError):
        check_label(label)
