"""The demo scenario: deterministic, valid STIX 2.1, coherent versions and references, labels that
parse and make policy sense, and no protected source detail anywhere in what it would ingest."""

from __future__ import annotations

import ipaddress
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stix2validator import ValidationOptions, validate_instance

from tearline.canonical import parse_timestamp
from tearline.demo.catalog import TOPICS
from tearline.demo.scenario import MIN_SIZE, Scenario, build_scenario
from tearline.errors import InvalidInput
from tearline.model.labeltext import format_label, parse_label
from tearline.model.markings import Label
from tearline.model.partners import check_code

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TOKEN = re.compile(r"\{\{source:([A-Z]+)\}\}")
LABEL = re.compile(
    r"^(UNCLASSIFIED|RESTRICTED|CONFIDENTIAL|SECRET|TOP SECRET)"
    r"(//REL TO [A-Z]{3}(, [A-Z]{3})*)?(//NOFORN)?(//ORCON)?"
    r"(//TLP:(GREEN|AMBER|AMBER\+STRICT|RED))?(//TOPICS [a-z-]+(, [a-z-]+){0,2})?$"
)
DOC_NETS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
BIRDS = {"KESTREL", "OSPREY", "MERLIN", "PLOVER", "SISKIN", "CORMORANT", "HERON", "WREN", "SWIFT", "RAVEN"}
REQUIRED = {
    "attack-pattern": {"name"}, "identity": {"name"}, "malware": {"is_family", "name"},
    "threat-actor": {"name"}, "intrusion-set": {"name"}, "campaign": {"name"},
    "indicator": {"pattern", "pattern_type", "valid_from"},
    "relationship": {"relationship_type", "source_ref", "target_ref"},
    "report": {"name", "published", "object_refs"},
}
FVEY = ("USA", "CAN", "AUS", "NZL")


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build_scenario(now=NOW)


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def by_id(sc: Scenario) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in sc.items:
        out[item.obj["id"]].append(item.obj)
    return out


def test_same_seed_same_scenario_and_other_seed_differs(scenario: Scenario) -> None:
    again = build_scenario(now=NOW)
    assert again == scenario
    other = build_scenario(seed=8, now=NOW)
    assert [i.obj["id"] for i in other.items] != [i.obj["id"] for i in scenario.items]


def test_builds_exactly_size_items_quickly() -> None:
    start = time.perf_counter()
    sc = build_scenario(now=NOW, size=3000)
    assert time.perf_counter() - start < 2.0
    assert len(sc.items) == 3000


def test_refuses_naive_now_and_tiny_sizes() -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        build_scenario(now=datetime(2026, 11, 29))
    with pytest.raises(InvalidInput, match="at least"):
        build_scenario(now=NOW, size=MIN_SIZE - 1)


def test_added_is_aware_utc_sorted_and_spread_over_two_years(scenario: Scenario) -> None:
    added = [i.added for i in scenario.items]
    assert added == sorted(added)
    assert all(a.tzinfo is not None and a.utcoffset() == timedelta(0) for a in added)
    assert NOW - timedelta(days=730) <= added[0] < NOW - timedelta(days=700)
    assert NOW - timedelta(days=30) < added[-1] <= NOW
    by_quarter = Counter((NOW - a).days // 91 for a in added)
    assert all(by_quarter[q] > 100 for q in range(8))


def test_other_time_zone_for_now_gives_the_same_scenario(scenario: Scenario) -> None:
    assert build_scenario(now=NOW.astimezone(timezone(timedelta(hours=9)))) == scenario


def test_every_object_has_the_stix_common_and_required_properties(scenario: Scenario) -> None:
    for item in scenario.items:
        obj = item.obj
        assert obj["spec_version"] == "2.1"
        assert re.fullmatch(rf"{obj['type']}--[0-9a-f]{{8}}-[0-9a-f]{{4}}-4[0-9a-f]{{3}}-[89ab][0-9a-f]{{3}}-"
                            r"[0-9a-f]{12}", obj["id"])
        assert REQUIRED[obj["type"]] <= obj.keys()
        assert parse_timestamp(obj["created"]) <= parse_timestamp(obj["modified"]) <= item.added
        if obj["type"] == "report":
            assert obj["published"] == obj["created"]
        assert not {"object_marking_refs", "granular_markings"} & obj.keys()


def test_a_sample_passes_the_stix2_validator_strictly(scenario: Scenario) -> None:
    rng = random.Random(3)
    first_of_type = {i.obj["type"]: i for i in reversed(scenario.items)}
    sample = [*first_of_type.values(), *rng.sample(scenario.items, 200)]
    options = ValidationOptions(strict=True)
    for item in sample:
        result = validate_instance(item.obj, options)
        assert result.is_valid, [str(e) for e in result.errors]
        assert not result.warnings, [str(w) for w in result.warnings]


def test_versions_share_id_and_type_and_move_forward(scenario: Scenario) -> None:
    keys = [(i.obj["id"], i.obj["modified"]) for i in scenario.items]
    assert len(keys) == len(set(keys))
    versions = by_id(scenario)
    multi = {k: v for k, v in versions.items() if len(v) > 1}
    assert 0.07 <= len(multi) / len(versions) <= 0.14
    assert {len(v) for v in multi.values()} <= {2, 3}
    for sid, objs in multi.items():
        assert {o["type"] for o in objs} == {sid.split("--")[0]}
        assert len({o["created"] for o in objs}) == 1
        modified = [parse_timestamp(o["modified"]) for o in objs]  # objs are in `added` order
        assert modified == sorted(modified) and len(set(modified)) == len(modified)


def test_references_point_back_to_objects_already_added(scenario: Scenario) -> None:
    first_added: dict[str, datetime] = {}
    created: dict[str, str] = {}
    for item in scenario.items:
        obj = item.obj
        refs = obj.get("object_refs", []) + [obj[k] for k in ("source_ref", "target_ref") if k in obj]
        for ref in refs:
            assert ref in first_added, ref
            assert first_added[ref] <= item.added
            assert created[ref] <= obj["created"]
        first_added.setdefault(obj["id"], item.added)
        created.setdefault(obj["id"], obj["created"])
    reports = [i.obj for i in scenario.items if i.obj["type"] == "report"]
    assert all(r["object_refs"] and len(set(r["object_refs"])) == len(r["object_refs"]) for r in reports)


def test_source_tokens_name_known_covers_in_some_reports(scenario: Scenario) -> None:
    covers = {s.cover for s in scenario.sources}
    citing, reports = set(), set()
    for item in scenario.items:
        text = "\n".join(strings(item.obj))
        assert text.count("{{") == text.count("}}") == len(TOKEN.findall(text))
        found = set(TOKEN.findall(text))
        assert found <= covers
        if found:
            assert item.obj["type"] == "report" and "description" in item.obj
            citing.add(item.obj["id"])
        if item.obj["type"] == "report":
            reports.add(item.obj["id"])
    assert 0.04 <= len(citing) / len(reports) <= 0.12


def test_no_protected_term_appears_in_any_string_of_any_item(scenario: Scenario) -> None:
    words = [t.lower() for s in scenario.sources for t in (s.true_name, *s.aliases, *s.emails, *s.compartments)]
    digits = []
    for s in scenario.sources:
        for phone in s.phones:
            digits.append(str(phonenumbers.parse(phone).national_number))
    strip = re.compile(r"[\s().+\-/]")
    for item in scenario.items:
        for text in [*strings(item.obj), item.label]:
            low = text.lower()
            assert not [w for w in words if w in low], text
            squeezed = strip.sub("", text)
            assert not [d for d in digits if d in squeezed], text


def test_sources_are_plausible_and_fictional(scenario: Scenario) -> None:
    assert len(scenario.sources) >= 6
    for s in scenario.sources:
        assert s.cover in BIRDS and s.cover.isupper()
        assert re.fullmatch(r"[A-F][1-6]", s.grade)
        assert s.aliases and s.phones and s.emails and s.compartments
        assert all(e.endswith(("@example.org", "@example.net")) for e in s.emails)
        for phone in s.phones:
            assert phonenumbers.is_possible_number(phonenumbers.parse(phone)), phone
    regions = {phonenumbers.region_code_for_number(phonenumbers.parse(p)) for s in scenario.sources
               for p in s.phones}
    assert len(regions) >= 4
    assert len({s.cover for s in scenario.sources}) == len(scenario.sources)


def test_partners_mix_five_eyes_and_others(scenario: Scenario) -> None:
    ps = {p.code: p for p in scenario.partners}
    levels = ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP SECRET"]
    assert all(check_code(code) == code for code in ps)
    for code in FVEY:
        assert levels.index(ps[code].clearance) >= 3
        assert ps[code].tlp_ceiling in ("AMBER", "AMBER+STRICT")
    others = [p for c, p in ps.items() if c not in FVEY]
    assert len(others) >= 2
    assert all(levels.index(p.clearance) in (1, 2) and p.tlp_ceiling in ("GREEN", "AMBER") for p in others)
    assert any(p.embargo_days > 0 for p in others) and any(p.sanitised_only for p in others)
    assert any(p.excluded_topics for p in others)
    assert all(set(p.excluded_topics) <= set(TOPICS) for p in scenario.partners)


def test_labels_use_the_documented_syntax_and_round_trip(scenario: Scenario) -> None:
    for item in scenario.items:
        assert LABEL.match(item.label), item.label
        assert format_label(parse_label(item.label)) == item.label


def test_label_mix_is_realistic(scenario: Scenario) -> None:
    n = len(scenario.items)
    labels = [parse_label(i.label) for i in scenario.items]
    cls = Counter(lab.classification for lab in labels)
    tlp = Counter(lab.tlp.text for lab in labels)
    assert (cls[0] + cls[1] + cls[2]) / n > 0.6 and cls[3] / n > 0.05 and 0 < cls[4] / n < 0.05
    assert (tlp["GREEN"] + tlp["AMBER"]) / n > 0.6 and tlp["CLEAR"] / n > 0.02
    assert 0 < tlp["AMBER+STRICT"] / n < 0.15 and 0 < tlp["RED"] / n < 0.05
    assert 0 < sum(lab.noforn for lab in labels) / n < 0.05
    assert 0 < sum(lab.orcon for lab in labels) / n < 0.05
    rels = Counter(frozenset(lab.rel_to) for lab in labels)
    assert rels[frozenset({"USA", "GBR", "CAN", "AUS", "NZL"})] > 50 and rels[frozenset({"USA", "GBR"})] > 20
    assert all(1 <= len(lab.topics) <= 3 for i, lab in zip(scenario.items, labels, strict=True)
               if i.obj["type"] != "attack-pattern")


def _at_least_as_strict(a: Label, b: Label) -> bool:
    return (a.classification >= b.classification and a.tlp >= b.tlp and a.topics >= b.topics
            and a.noforn >= b.noforn and a.orcon >= b.orcon
            and (a.noforn or not b.rel_to or (bool(a.rel_to) and a.rel_to <= b.rel_to)))


def test_relationship_labels_are_no_less_restrictive_than_their_endpoints(scenario: Scenario) -> None:
    labels: dict[str, list[Label]] = defaultdict(list)
    for item in scenario.items:
        labels[item.obj["id"]].append(parse_label(item.label))
    for item in scenario.items:
        if item.obj["type"] == "relationship":
            mine = parse_label(item.label)
            for end in (item.obj["source_ref"], item.obj["target_ref"]):
                assert all(_at_least_as_strict(mine, lab) for lab in labels[end]), (item.label, end)


def test_every_kind_and_topic_is_represented(scenario: Scenario) -> None:
    types = Counter(i.obj["type"] for i in scenario.items)
    assert set(REQUIRED) <= set(types)
    assert types["indicator"] > 800 and types["report"] > 100
    rtypes = Counter(i.obj["relationship_type"] for i in scenario.items if i.obj["type"] == "relationship")
    assert {"uses", "indicates", "attributed-to", "targets"} <= set(rtypes)
    topics = Counter(t for i in scenario.items for t in parse_label(i.label).topics)
    assert set(topics) == set(TOPICS) and 10 <= len(TOPICS) <= 15
    assert all(topics[t] >= 20 for t in TOPICS), topics
    partner, topic = scenario.scale_back
    assert partner == "USA" and topic in TOPICS and topics[topic] >= 100


def test_indicator_patterns_use_documentation_ranges_and_reserved_names(scenario: Scenario) -> None:
    kinds: Counter[str] = Counter()
    for item in scenario.items:
        pattern = item.obj.get("pattern")
        if pattern is None:
            continue
        for ip in re.findall(r"\b\d+\.\d+\.\d+\.\d+\b", pattern):
            assert any(ipaddress.ip_address(ip) in net for net in DOC_NETS), ip
            kinds["ip"] += 1
        for host in re.findall(r"(?:domain-name:value = '|https://|@)([a-z0-9.-]+)", pattern):
            assert host.endswith((".example", ".test", ".example.com", ".example.net")), host
            kinds["host"] += 1
        for digest in re.findall(r"'SHA-256' = '([^']*)'", pattern):
            assert re.fullmatch(r"[0-9a-f]{64}", digest)
            kinds["hash"] += 1
        kinds["url"] += "url:value" in pattern
    assert min(kinds.values()) > 50, kinds


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32), size=st.integers(MIN_SIZE, 1500))
def test_invariants_hold_for_any_seed_and_size(seed: int, size: int) -> None:
    sc = build_scenario(seed=seed, now=NOW, size=size)
    assert len(sc.items) == size
    keys = {(i.obj["id"], i.obj["modified"]) for i in sc.items}
    assert len(keys) == size
    seen: set[str] = set()
    for item in sc.items:
        obj = item.obj
        for ref in obj.get("object_refs", []) + [obj[k] for k in ("source_ref", "target_ref") if k in obj]:
            assert ref in seen
        seen.add(obj["id"])
        assert NOW - timedelta(days=730) <= item.added <= NOW
        assert LABEL.match(item.label)
