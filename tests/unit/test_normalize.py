"""Each step of the gate's normal form, and the ASCII fast path against the general path."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tearline.sanitize.normalize import (
    _TABLE,
    collapse_spaces,
    normalise,
    normalise_ascii,
    normalise_unicode,
    word_at,
    word_char,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＡＮＮ ＳＭＩＴＨ", "ann srnith"),  # NFKC: fullwidth
        ("ﬁnn", "finn"),  # NFKC: ligature
        ("𝐀𝐧𝐧", "ann"),  # NFKC: mathematical bold
    ],
)
def test_nfkc(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_case_folding_is_full() -> None:
    assert normalise("STRASSE") == normalise("Straße") == "strasse"
    assert normalise("ΣΟΦΙΑ") == normalise("σοφια")


@pytest.mark.parametrize(
    "mark",
    [
        "\u200b",
        "\u200c",
        "\u200d",
        "\u2060",
        "\ufeff",
        "\u00ad",
        "\u200e",
        "\u200f",
        "\u202e",
        "\u2066",
        "\u2069",
        "\u034f",
        "\ufe0f",
    ],
)
def test_invisible_characters_are_removed(mark: str) -> None:
    assert normalise(f"An{mark}n") == "ann"


def test_diacritics_are_ignored_both_ways() -> None:
    assert normalise("José Pérez") == normalise("Jose Perez") == "jose perez"
    assert normalise("Jose\u0301") == normalise("Jos\u00e9") == "jose"
    assert normalise("Z\u0327\u0301oe\u0308") == "zoe"  # stacked marks added


@pytest.mark.parametrize("space", ["\u00a0", "\u3000", "\u2028", "\u2029", "\t", "\n", "\u2003", "\u202f"])
def test_any_whitespace_run_is_one_space(space: str) -> None:
    assert normalise(f"ann{space}{space} smith") == "ann srnith"


def test_brackets_become_spaces() -> None:
    assert normalise("bob [at] example (dot) org") == "bob at exarnple dot org"


@pytest.mark.parametrize(
    ("lookalike", "plain"),
    [
        ("Аnn", "Ann"),  # Cyrillic A
        ("Ιvan", "Ivan"),  # Greek capital iota
        ("ѕmith", "smith"),  # Cyrillic dze
        ("rn", "m"),  # TS #39: m and rn share a skeleton
        ("ǀan", "lan"),  # Latin letter dental click
    ],
)
def test_confusables_share_a_skeleton(lookalike: str, plain: str) -> None:
    assert normalise(lookalike) == normalise(plain)


def test_digits_stay_digits() -> None:
    assert normalise("0201") == "0201"
    assert normalise("J0hn") != normalise("John")
    assert normalise("٠٢٠ ७९४६") == "020 7946"  # Arabic-Indic and Devanagari digits
    assert normalise("０２０") == "020"


def reference(text: str) -> str:
    """The normal form by its definition: the per-character table over the whole text, no fast paths."""
    folded = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).casefold())
    return re.sub(" {2,}", " ", folded.translate(_TABLE))


def test_ascii_fast_path_agrees_with_the_definition_on_every_ascii_character() -> None:
    for b in range(128):
        ch = chr(b)
        assert normalise_ascii(ch.encode()).decode() == reference(ch), repr(ch)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_ascii_fast_path_agrees_on_strings(text: str) -> None:
    assert normalise_ascii(text.encode()).decode() == reference(text)


@given(st.text(max_size=60))
def test_mixed_text_agrees_with_the_definition(text: str) -> None:
    assert normalise(text) == reference(text)


@given(st.text(max_size=40))
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


def test_quotes_become_fences_only_when_asked() -> None:
    assert normalise_unicode('"Aé"\x00', quote_as_nul=True) == b"\x00ae\x00 "
    assert normalise_unicode('"Aé"\x00') == b"''ae'' "


def test_collapse_spaces() -> None:
    assert collapse_spaces(b"a    b  c d") == b"a b c d"
    assert collapse_spaces(b"") == b""


def test_word_characters() -> None:
    assert word_char("a") and word_char("9") and word_char("é")
    assert not word_char("_") and not word_char("-") and not word_char("\x00")
    assert not word_char("王")  # a script without spaces never blocks a boundary
    buf = "xé,王".encode()
    assert word_at(buf, 2, backwards=True)  # last byte of é
    assert not word_at(buf, 3, backwards=False)  # the comma
    assert not word_at(buf, 4, backwards=False)  # 王
    assert not word_at(buf, -1, backwards=True) and not word_at(buf, len(buf), backwards=False)
