"""Fingerprinting: facts kept, objects valid, the gate unaffected, symbols read back, the code's bound."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stix2validator import ValidationOptions, validate_instance
from tests.data import attack_files

from tearline.canonical import dumps_ordered
from tearline.demo.scenario import build_scenario
from tearline.fingerprint import prose
from tearline.fingerprint.code import Code, score_terms, tail_bound, threshold
from tearline.fingerprint.embed import embed, facts, fingerprint, symbols
from tearline.sanitize.normalize import normalise
from tearline.sanitize.scanner import TermSet

CODE = Code(b"a test fingerprint key of 32 bytes")
PARTNERS = ["USA", "GBR", "CAN", "AUS", "NZL"]
UNTOUCHED = ("id", "type", "created", "modified", "pattern", "pattern_type", "valid_from", "name", "hashes",
             "value", "first_seen", "last_seen", "published", "source_ref", "target_ref", "relationship_type")


def _scenario_objects() -> list[dict[str, Any]]:
    sc = build_scenario(seed=3, now=datetime(2026, 6, 1, tzinfo=UTC), size=500)
    return [i.obj for i in sc.items if "{{source:" not in orjson.dumps(i.obj).decode()]


SCENARIO = _scenario_objects()


def _attack_objects() -> list[dict[str, Any]]:
    files = [f for f in attack_files() if f.name.startswith("ics-attack-18")]
    if not files:
        return []
    return [o for o in orjson.loads(files[0].read_bytes())["objects"] if o["type"] != "marking-definition"][:1500]


ATTACK = _attack_objects()
OBJECTS = SCENARIO + ATTACK


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(OBJECTS), st.sampled_from(PARTNERS), st.sampled_from(PARTNERS))
def test_every_partner_gets_the_same_facts_and_the_same_bytes_each_time(obj, a, b) -> None:  # type: ignore[no-untyped-def]
    fa, fb = fingerprint(obj, a, CODE), fingerprint(obj, b, CODE)
    assert facts(fa) == facts(fb) == facts(obj)
    assert dumps_ordered(fingerprint(obj, a, CODE)) == dumps_ordered(fa)  # deterministic
    for k in UNTOUCHED:
        assert fa.get(k) == obj.get(k)
    assert set(fa) == set(obj)
    assert list(fa)[:1] == ["type"]


def test_partners_get_different_bytes_for_the_same_version() -> None:
    rich = [o for o in OBJECTS if len(orjson.dumps(o)) > 600][:50]
    differ = sum(len({dumps_ordered(fingerprint(o, p, CODE)) for p in PARTNERS}) == len(PARTNERS) for o in rich)
    assert differ >= 0.9 * len(rich)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(OBJECTS), st.sampled_from(PARTNERS))
def test_fingerprinted_objects_still_validate(obj, partner) -> None:  # type: ignore[no-untyped-def]
    options = ValidationOptions(version="2.1")
    before = validate_instance(obj, options)
    after = validate_instance(orjson.loads(dumps_ordered(fingerprint(obj, partner, CODE))), options)
    assert {e.message for e in after.errors} <= {e.message for e in before.errors}
    assert after.is_valid or not before.is_valid


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(OBJECTS), st.sampled_from(PARTNERS), st.randoms(use_true_random=False))
def test_symbols_read_back_are_the_partners_even_from_a_partial_copy(obj, partner, rnd) -> None:  # type: ignore[no-untyped-def]
    copy = orjson.loads(dumps_ordered(fingerprint(obj, partner, CODE)))
    for k, v in list(copy.items()):  # the leaker drops some list items
        if isinstance(v, list) and len(v) > 3 and rnd.random() < 0.5:
            copy[k] = [x for x in v if rnd.random() < 0.7] or v[:1]
    got = symbols(copy, CODE, stored=obj)
    read = {p: y for p, y in got.items() if y >= 0}
    assert all(CODE.symbol(partner, p) == y for p, y in read.items())


# -- prose ----------------------------------------------------------------------------------------
FORMS = [f for pair in (*prose.TWO_WAY[::7], *prose.ONE_WAY) for f in pair]
WORDS = ["the", "adversary", "network", "data", "host", "and", "or", "to", "report", "Alpha", "Bravo"]
PIECES = st.sampled_from(FORMS) | st.sampled_from(WORDS) | st.sampled_from(
    ["12,500", "48000", "7%", "3 percent", "group's", "group’s", "A, B, and C", "A, B and C", "e.g.", "i.e.",
     "(Citation: organization report)", "organization.docx", "https://organization.example/behavior",
     '"utilize e-mail"', "port 44300"]
)
SENTENCES = st.lists(PIECES, min_size=1, max_size=30).map(lambda ws: " ".join(ws) + ".")


@settings(max_examples=300, deadline=None)
@given(SENTENCES, st.sampled_from(PARTNERS))
def test_prose_facts_are_kept_and_protected_spans_untouched(text, partner) -> None:  # type: ignore[no-untyped-def]
    obj = {"type": "report", "id": "report--6f3ad2c5-9a8e-4d7e-8a3b-2c1b0a9d8e7f", "description": text}
    out = fingerprint(obj, partner, CODE)["description"]
    assert prose.facts(out) == prose.facts(text)
    for span in ("(Citation: organization report)", "organization.docx", "https://organization.example/behavior",
                 '"utilize e-mail"', "port 44300"):
        assert out.count(span) == text.count(span)


@settings(max_examples=300, deadline=None)
@given(SENTENCES, st.lists(PIECES, min_size=1, max_size=4).map(" ".join), st.sampled_from(PARTNERS))
def test_the_gate_still_catches_every_protected_term_after_fingerprinting(text, term, partner) -> None:  # type: ignore[no-untyped-def]
    if len(term.strip()) < 3:
        return  # the vault refuses terms this short
    terms = TermSet.build([("t1", term)])
    body = {"type": "report", "id": "report--6f3ad2c5-9a8e-4d7e-8a3b-2c1b0a9d8e7f", "description": text,
            "labels": ["b", "a", "c"]}
    if not terms.scan_json(orjson.dumps(body)):
        return  # the term is not in the text: nothing to catch
    frozen = prose.frozen_classes([term], normalise)
    out = fingerprint(body, partner, CODE, frozen)
    assert terms.scan_json(dumps_ordered(out)), (term, out["description"])


def test_frozen_classes_are_left_as_they_are() -> None:
    text = "Adversaries utilize e-mail in order to reach the organization."
    frozen = prose.frozen_classes(["the organization"], normalise)
    for p in PARTNERS:
        out = fingerprint({"type": "note", "id": "note--6f3ad2c5-9a8e-4d7e-8a3b-2c1b0a9d8e7f", "content": text},
                          p, CODE, frozen)["content"]
        assert "organization" in out


# -- the code -------------------------------------------------------------------------------------
def test_the_false_accusation_bound_holds_for_innocent_partners() -> None:
    rnd = random.Random(5)
    positions = [f"pos-{i}".encode() for i in range(120)]
    guilty = "GUILTY"
    ys = [CODE.symbol(guilty, p) for p in positions]
    ps = [CODE.bias(p) for p in positions]
    z = threshold(ys, ps, 0.05)
    innocents = [f"I{i:04d}" for i in range(3000)]
    over = sum(score_terms(ys, [CODE.symbol(i, p) for p in positions], ps) >= z for i in innocents)
    assert over / len(innocents) <= 0.05
    assert tail_bound(ys, ps, z) <= 0.05 + 1e-9
    assert score_terms(ys, ys, ps) > z  # the leaker's own codeword is accused
    assert rnd  # the bound holds whatever the leak: also for a leak of random symbols
    noise = [rnd.randint(0, 1) for _ in positions]
    zn = threshold(noise, ps, 0.05)
    assert sum(score_terms(noise, [CODE.symbol(i, p) for p in positions], ps) >= zn for i in innocents) <= 150


def test_the_code_is_keyed() -> None:
    other = Code(b"another fingerprint key, 32 bytes!")
    positions = [f"pos-{i}".encode() for i in range(200)]
    same = sum(CODE.symbol("USA", p) == other.symbol("USA", p) for p in positions)
    assert same < 170
    with pytest.raises(ValueError):
        Code(b"short")


def test_embedding_an_arbitrary_codeword_reads_back() -> None:
    obj = next(o for o in OBJECTS if len(o.get("external_references", [])) > 3)
    bits: dict[bytes, int] = {}

    def bit(p: bytes) -> int:
        return bits.setdefault(p, random.Random(p).randint(0, 1))

    copy = orjson.loads(dumps_ordered(embed(obj, bit, CODE)))
    got = {p: y for p, y in symbols(copy, CODE, stored=obj).items() if y >= 0}
    assert got and all(bits[p] == y for p, y in got.items())
