"""The protected-term gate: what it finds, what it must not find, and how it fails."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies import LETTERS, disguise

from tearline.errors import InvalidInput, TearlineError
from tearline.sanitize.normalize import normalise
from tearline.sanitize.scanner import GateError, Hit, TermSet

PHONE = "+44 20 7946 0958"


@pytest.fixture(scope="module")
def terms() -> TermSet:
    return TermSet.build(
        [("ann", "Ann"), ("phone", PHONE), ("mail", "bob.smith@example.org"), ("jose", "José Pérez"), ("han", "王小明")]
    )


def ids(hits: list[Hit]) -> set[str]:
    return {h.term_id for h in hits}


# -- whole words ------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["Ann,", "(Ann)", "met Ann.", "ANN", "ann_smith", '"Ann"', "Ann-Marie"])
def test_whole_word_hits(terms: TermSet, text: str) -> None:
    assert ids(terms.scan_text(text)) == {"ann"}


@pytest.mark.parametrize("text", ["Annex", "Joann", "Anna", "annual", "Ann2"])
def test_no_hit_inside_a_word(terms: TermSet, text: str) -> None:
    assert terms.scan_text(text) == []


def test_scripts_without_spaces_need_no_boundary(terms: TermSet) -> None:
    assert ids(terms.scan_text("我叫王小明了")) == {"han"}


def test_diacritics_added_or_removed(terms: TermSet) -> None:
    assert ids(terms.scan_text("jose perez")) == {"jose"}
    assert ids(TermSet.build([("t", "Jose Perez")]).scan_text("José Pérez")) == {"t"}


# -- phone numbers and e-mail -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "+44 20 7946 0958",
        "020 7946 0958",
        "(020) 7946-0958",
        "+44 (0)20 7946 0958",
        "0044 20 7946 0958",
        "+442079460958",
        "tel:020.7946.0958",
        "call 0207 946 0958 now",
        "＋４４ ２０ ７９４６ ０９５８",
    ],
)
def test_phone_written_forms(terms: TermSet, text: str) -> None:
    assert ids(terms.scan_text(text)) == {"phone"}


@pytest.mark.parametrize("text", ["12079460958", "020 7946 09581", "020 7946 0959", "+1 20 7946 0958", "x2079460958"])
def test_phone_look_alikes_do_not_hit(terms: TermSet, text: str) -> None:
    assert terms.scan_text(text) == []


def test_phone_term_in_national_form_with_region() -> None:
    ts = TermSet.build([("p", "(202) 555-0143")], region="US")
    assert ids(ts.scan_text("ring +1 202-555-0143")) == {"p"}
    assert ids(ts.scan_text("ring 1 (202) 555 0143")) == {"p"}


@pytest.mark.parametrize(
    "text",
    [
        "bob.smith@example.org",
        "BOB.SMITH@Example.ORG",
        "bob.smith [at] example [dot] org",
        "bob.smith (at) example (dot) org",
        "bob.smith@example[.]org",
        "bob[dot]smith[at]example[dot]org",
        "bob.smith at example dot org",
        "<bob.smith@example.org>",
    ],
)
def test_email_written_forms(terms: TermSet, text: str) -> None:
    assert ids(terms.scan_text(text)) == {"mail"}


@pytest.mark.parametrize("text", ["jimbob.smith@example.org", "bob.smith@example.organic", "bob.smith@example"])
def test_email_look_alikes_do_not_hit(terms: TermSet, text: str) -> None:
    assert terms.scan_text(text) == []


# -- JSON -------------------------------------------------------------------------------------------
def test_fields_keys_and_paths(terms: TermSet) -> None:
    doc = {
        "type": "note",
        "content": "met Ann",
        "external_references": [{"description": "x ann"}],
        "Ann": {"k": "Ann"},
        "x-odd key": ["Ann"],
    }
    hits = terms.scan_json(orjson.dumps(doc))
    assert hits == [
        Hit("ann", "$.content"),
        Hit("ann", "$.external_references[0].description"),
        Hit("ann", "$<key>"),
        Hit("ann", "$[<key>].k"),
        Hit("ann", '$["x-odd key"][0]'),
    ]


def test_escapes_are_decoded(terms: TermSet) -> None:
    assert ids(terms.scan_json(b'{"a":"\\u0041nn"}')) == {"ann"}
    assert ids(terms.scan_json(b'{"a":"x\\nAnn\\t"}')) == {"ann"}
    assert ids(terms.scan_json(b'{"a":"\\"Ann\\""}')) == {"ann"}
    assert terms.scan_json(b'{"a":"\\\\nAnn"}') == []  # backslash then "nAnn": one word


def test_a_value_hidden_by_a_duplicate_key_is_still_scanned(terms: TermSet) -> None:
    assert terms.scan_json(b'{"a":"Ann","a":"x"}') == [Hit("ann", "$.a")]


def test_structure_between_strings_is_not_text() -> None:
    ts = TermSet.build([("t", "null"), ("u", "true")])
    assert ts.scan_json(b'{"a":null,"b":[true,false]}') == []
    assert ids(ts.scan_json(b'{"a":"null"}')) == {"t"}


@pytest.mark.parametrize(
    "data", [b'{"a": "Ann"', b'{"a": "\\ud800"}', b'{"a": "\xff"}', b"\xc3", b"", b"{'a': 1}", b'{"a": NaN}']
)
def test_bad_input_raises_gate_error(terms: TermSet, data: bytes) -> None:
    with pytest.raises(GateError) as err:
        terms.scan_json(data)
    assert isinstance(err.value, TearlineError)
    assert err.value.code == "gate_error"


def test_empty_set_finds_nothing_but_still_checks_input() -> None:
    ts = TermSet.build([])
    assert len(ts) == 0
    assert ts.scan_json(b'{"a":"anything"}') == []
    assert ts.scan_text("anything") == []
    with pytest.raises(GateError):
        ts.scan_json(b'{"a":')


def test_short_terms_are_refused_by_id() -> None:
    with pytest.raises(InvalidInput) as err:
        TermSet.build([("ok", "Annabel"), ("src-7", " A\u200bl ")])
    assert "`src-7`" in str(err.value) and "Al" not in str(err.value)


def test_unknown_region_is_refused() -> None:
    with pytest.raises(InvalidInput):
        TermSet.build([("p", PHONE)], region="XX")


def test_hits_never_carry_term_text(terms: TermSet) -> None:
    hits = terms.scan_json(orjson.dumps({"d": "Ann and bob.smith@example.org on 020 7946 0958"}))
    assert ids(hits) == {"ann", "mail", "phone"}
    assert "example" not in repr(hits) and "7946" not in repr(hits)


def test_concurrent_scans_share_one_term_set(terms: TermSet) -> None:
    doc = orjson.dumps({"d": ["Ann " * 50, "none"] * 20})
    results: list[list[Hit]] = []

    def work() -> None:
        for _ in range(50):
            results.append(terms.scan_json(doc))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 200 and all(r == results[0] for r in results)


# -- properties -------------------------------------------------------------------------------------
# keys share no letter with the terms, so a planted value's path is never redacted by its key
KEYS = st.text(alphabet="dfghjkquvz_", min_size=1, max_size=8)


def words(min_size: int = 3) -> st.SearchStrategy[str]:
    return st.text(alphabet=LETTERS, min_size=min_size, max_size=8)


terms_st = st.lists(words(), min_size=1, max_size=2).map(" ".join)


def json_values(leaf: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaf | st.integers(-(2**53), 2**53) | st.booleans() | st.none(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
        max_leaves=8,
    )


def dump(obj: Any, escape: str) -> bytes:
    """Serialise as UTF-8, all-ASCII with ``\\u`` escapes, or with every letter ``\\u``-escaped too."""
    if escape == "utf8":
        return orjson.dumps(obj)
    if escape == "ascii":
        return json.dumps(obj, ensure_ascii=True).encode("ascii")

    def text(value: str) -> str:
        return (
            '"'
            + "".join(
                f"\\u{ord(c):04x}" if c.isascii() and c.isalpha() else json.dumps(c, ensure_ascii=True)[1:-1]
                for c in value
            )
            + '"'
        )

    def enc(value: Any) -> str:
        if isinstance(value, str):
            return text(value)
        if isinstance(value, dict):
            return "{" + ",".join(f"{text(k)}:{enc(v)}" for k, v in value.items()) + "}"
        if isinstance(value, list):
            return "[" + ",".join(enc(v) for v in value) + "]"
        return json.dumps(value)

    return enc(obj).encode("ascii")


def plant(obj: Any, text: str, choice: int) -> tuple[Any, str]:
    """Put ``text`` at a place chosen by ``choice`` inside ``obj``; returns the new object and its path."""
    if isinstance(obj, dict) and obj and choice % 3:
        key = sorted(obj)[choice % len(obj)]
        child, path = plant(obj[key], text, choice // 3)
        return {**obj, key: child}, f".{key}{path}"
    if isinstance(obj, list) and obj and choice % 3:
        i = choice % len(obj)
        child, path = plant(obj[i], text, choice // 3)
        return [*obj[:i], child, *obj[i + 1 :]], f"[{i}]{path}"
    return text, ""


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(term=terms_st, data=st.data())
def test_a_planted_term_is_always_found(term: str, data: st.DataObject) -> None:
    ts = TermSet.build([("t", term)])
    disguised = data.draw(disguise(term))
    before = data.draw(st.sampled_from(["", "x ", "see: ", "(", "\u00a0", "«", "1 "]))
    after = data.draw(st.sampled_from(["", " y", ".", ")", ",", "\u3000z", "!"]))
    obj = {"type": "note", "body": data.draw(json_values(words(1)))}
    planted, path = plant(obj, before + disguised + after, data.draw(st.integers(0, 10**6)))
    doc = dump(planted, data.draw(st.sampled_from(["utf8", "ascii", "letters"])))
    assert Hit("t", "$" + path) in ts.scan_json(doc)


def oracle(term: str, obj: Any) -> set[str]:
    """Paths of strings whose normal form contains the term's normal form as a whole word."""
    pattern = re.compile(rf"(?<![0-9a-z]){re.escape(normalise(term).strip())}(?![0-9a-z])")
    found: set[str] = set()

    def walk(value: Any, path: str) -> None:
        if isinstance(value, str):
            if pattern.search(normalise(value)):
                found.add(path)
        elif isinstance(value, dict):
            for key, child in value.items():
                if pattern.search(normalise(key)):
                    found.add(f"{path}<key>")
                walk(child, f"{path}.{key}" if not pattern.search(normalise(key)) else f"{path}[<key>]")
        elif isinstance(value, list):
            for i, child in enumerate(value):
                walk(child, f"{path}[{i}]")

    walk(obj, "$")
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(term=terms_st, data=st.data())
def test_hits_are_exactly_the_whole_word_occurrences(term: str, data: st.DataObject) -> None:
    """Strings made of the term's own letters, near misses (prefix, suffix, one letter off) and the
    term itself: the gate reports exactly the fields where the term occurs as a whole word."""
    near = [term + "s", "x" + term, term[:-1], term[1:], term.replace(term[0], "o", 1), term, term.upper()]
    piece = st.sampled_from(near) | words(1)
    sentence = st.lists(piece, min_size=1, max_size=5).flatmap(
        lambda ps: st.sampled_from([" ", ", ", "-", "_", ""]).map(lambda sep: sep.join(ps))
    )
    obj = data.draw(json_values(sentence))
    ts = TermSet.build([("t", term)])
    expected = oracle(term, obj)
    got = {h.field for h in ts.scan_json(orjson.dumps(obj))}
    assert got == expected
    assert {h.field for h in ts.scan_json(dump(obj, "ascii"))} == expected  # general path agrees


def test_property_generators_are_not_vacuous() -> None:
    """The differential test above sees both outcomes: the oracle finds the term in some objects only."""
    assert oracle("rose", {"a": "a rose, red"}) == {"$.a"}
    assert oracle("rose", {"a": "roses prose rosette"}) == set()
