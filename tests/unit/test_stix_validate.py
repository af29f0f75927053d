"""Structural validation of STIX 2.1 objects, held against the OASIS validator and the ATT&CK data."""

from __future__ import annotations

import copy
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tearline.canonical import parse_timestamp
from tearline.stix.validate import REQUIRED, check_object, deep_check, describe, is_timestamp

ATTACK = Path(__file__).parents[2] / ".." / "shared" / "data" / "attack"
T0 = "2024-05-01T10:00:00.000Z"
T1 = "2024-05-02T11:30:00.250Z"
IDENTITY = "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff"
TLP_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
INDICATOR = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
MALWARE = "malware--31b940d4-6f7f-459a-80ea-9c1f17b58abc"
IPV4 = "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"


def sdo(kind: str, uuid: str, **properties: Any) -> dict[str, Any]:
    base = {"type": kind, "spec_version": "2.1", "id": f"{kind}--{uuid}", "created": T0, "modified": T1}
    return base | properties


# One minimal valid object of every STIX 2.1 type with required properties (STIX 2.1 §4-§7).
VALID: dict[str, dict[str, Any]] = {
    "attack-pattern": sdo("attack-pattern", "7e33a43e-e34b-40ec-89da-36c9bb2cacd5", name="Spear Phishing"),
    "campaign": sdo("campaign", "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", name="Green Group Attacks"),
    "course-of-action": sdo("course-of-action", "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", name="Block"),
    "grouping": sdo(
        "grouping",
        "84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3",
        context="suspicious-activity",
        object_refs=[INDICATOR],
    ),
    "identity": sdo(
        "identity", "f431f809-377b-45e0-aa1c-6a4751cae5ff", name="ACME", identity_class="organization"
    ),
    "incident": sdo("incident", "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", name="Breach"),
    "indicator": sdo(
        "indicator",
        "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        pattern="[ipv4-addr:value = '198.51.100.1']",
        pattern_type="stix",
        valid_from=T0,
        created_by_ref=IDENTITY,
        object_marking_refs=[TLP_GREEN],
    ),
    "infrastructure": sdo("infrastructure", "38c47d93-d984-4fd9-b87b-d69d0841628d", name="C2 box"),
    "intrusion-set": sdo("intrusion-set", "4e78f46f-a023-4e5f-bc24-71b3ca22ec29", name="Bobcat Breakin"),
    "location": sdo("location", "a6e9345f-5a15-4c29-8bb3-7dcc5d168d64", region="south-eastern-asia"),
    "malware": sdo("malware", "31b940d4-6f7f-459a-80ea-9c1f17b58abc", is_family=True, name="Cryptolocker"),
    "malware-analysis": sdo(
        "malware-analysis", "d25dcf96-b8bd-4b3b-b8b9-3bd1d0a4f7c4", product="av", result="malicious"
    ),
    "note": sdo("note", "0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061", content="seen twice", object_refs=[MALWARE]),
    "observed-data": sdo(
        "observed-data",
        "b67d30ff-02ac-498a-92f9-32f845f448cf",
        first_observed=T0,
        last_observed=T1,
        number_observed=3,
        object_refs=[IPV4],
    ),
    "opinion": sdo("opinion", "b01efc25-77b4-4003-b18b-f6e24b5cd9f7", opinion="agree", object_refs=[MALWARE]),
    "report": sdo(
        "report", "84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3", name="Q2", published=T1, object_refs=[INDICATOR]
    ),
    "threat-actor": sdo("threat-actor", "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", name="Evil Org"),
    "tool": sdo("tool", "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", name="VNC"),
    "vulnerability": sdo("vulnerability", "0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061", name="CVE-2016-1234"),
    "relationship": sdo(
        "relationship",
        "44298a74-ba52-4f0c-87a3-1824e67d7fad",
        relationship_type="indicates",
        source_ref=INDICATOR,
        target_ref=MALWARE,
    ),
    "sighting": sdo("sighting", "ee20065d-2555-424f-ad9e-0f8428623c75", sighting_of_ref=INDICATOR),
    "language-content": sdo(
        "language-content",
        "b86b3fea-8a2c-4c7d-9d6c-6b4e9b4d6a9a",
        object_ref=MALWARE,
        contents={"de": {"name": "Krypto"}},
    ),
    "extension-definition": sdo(
        "extension-definition",
        "9c59fd79-4215-4ba2-920d-3e4f320e1e62",
        created_by_ref=IDENTITY,
        name="x",
        schema="https://example.com/schema.json",
        version="1.0.0",
        extension_types=["property-extension"],
    ),
    "marking-definition": {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP_GREEN,
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "name": "TLP:GREEN",
        "definition": {"tlp": "green"},
    },
}
SCO = {"type": "ipv4-addr", "id": IPV4, "value": "198.51.100.3"}


def without(obj: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in names}


def test_the_table_covers_every_type_with_required_properties() -> None:
    assert set(VALID) == set(REQUIRED)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_minimal_valid_objects_pass_both_validators(kind: str) -> None:
    assert check_object(VALID[kind]) == []
    assert deep_check(VALID[kind]) == []


@pytest.mark.parametrize(("kind", "name"), [(k, n) for k in sorted(REQUIRED) for n in REQUIRED[k]])
def test_each_missing_required_property_is_named_and_the_oasis_validator_agrees(kind: str, name: str) -> None:
    broken = without(VALID[kind], name)
    assert f"missing required property `{name}`" in check_object(broken)
    if (kind, name) != ("extension-definition", "created_by_ref"):
        # STIX 2.1 §7.3 requires it; the OASIS schema (extension-definition.json) does not check it
        assert deep_check(broken) != []


@pytest.mark.parametrize("name", ["id", "type", "spec_version", "created", "modified"])
def test_missing_common_property(name: str) -> None:
    problems = check_object(without(VALID["indicator"], name))
    assert problems
    if name != "spec_version":
        assert problems == [f"missing required property `{name}`"]


def test_spec_version_must_be_exactly_21() -> None:
    assert check_object(VALID["tool"] | {"spec_version": "2.0"}) == ["spec_version must be `2.1`, got `2.0`"]
    assert check_object(without(VALID["tool"], "spec_version")) == [
        "spec_version must be `2.1`, got missing (a STIX 2.0 object?)"
    ]
    assert check_object(VALID["tool"] | {"spec_version": 2.1}) == ["spec_version must be `2.1`, got `2.1`"]


def test_scos_have_no_created_or_modified_and_may_omit_spec_version() -> None:
    assert check_object(SCO) == []
    assert deep_check(SCO) == []
    assert check_object(SCO | {"spec_version": "2.1"}) == []
    assert check_object(without(SCO, "value")) == ["missing required property `value`"]


@pytest.mark.parametrize(
    ("change", "problem", "oasis_rejects"),
    [
        (
            {"id": "indicator--not-a-uuid"},
            "`id` is not `<type>--<RFC 4122 UUID>`: `indicator--not-a-uuid`",
            True,
        ),
        (
            {"id": "indicator--8e2e2d2b-17d4-0cbf-938f-98ee46b3cd3f"},
            "`id` is not `<type>--<RFC 4122 UUID>`",
            True,
        ),
        (
            {"id": "indicator--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f"},
            "`id` is not `<type>--<RFC 4122 UUID>`",
            True,
        ),
        ({"id": f"malware--{INDICATOR[11:]}"}, "does not start with its type `indicator--`", True),
        ({"id": 7}, "`id` must be a string", True),
        ({"type": "Indicator"}, "`type` is not a STIX type name", True),
        ({"type": "ab"}, "`type` is not a STIX type name", True),
        ({"created": "2024-05-01T10:00:00Z"}, "`created` must be precise to the millisecond", True),
        ({"created": "2024-02-30T10:00:00.000Z"}, "`created` is not a STIX timestamp", True),
        ({"modified": "yesterday"}, "`modified` is not a STIX timestamp: `yesterday`", True),
        (
            {"modified": "2024-04-30T10:00:00.000Z"},
            "`modified` `2024-04-30T10:00:00.000Z` is earlier than",
            True,
        ),
        ({"modified": "2024-05-01T09:59:59.9999Z"}, "is earlier than `created`", True),
        ({"valid_from": "2024-05-01"}, "`valid_from` is not a STIX timestamp", True),
        (
            {"created_by_ref": MALWARE},
            "`created_by_ref` must point at type `identity`, not `malware--",
            False,
        ),
        ({"created_by_ref": "ACME"}, "`created_by_ref` is not an identifier: `ACME`", True),
        (
            {"object_marking_refs": [IDENTITY]},
            "`object_marking_refs` must point at type `marking-definition`",
            False,
        ),
        ({"object_marking_refs": TLP_GREEN}, "`object_marking_refs` must be a list of identifiers", True),
        ({"x_acme_refs": ["nope"]}, "`x_acme_refs` holds `nope`, which is not an identifier", False),
        ({"x_acme_refs": INDICATOR}, "`x_acme_refs` must be a list of identifiers", False),
        ({"granular_markings": [{"selectors": ["pattern"]}]}, "needs `marking_ref` or `lang`", True),
        (
            {"granular_markings": [{"marking_ref": TLP_GREEN, "selectors": []}]},
            "non-empty list of strings",
            True,
        ),
        (
            {"granular_markings": [{"marking_ref": IDENTITY, "selectors": ["name"]}]},
            "not a marking-definition id",
            True,
        ),
    ],
)
def test_each_problem_is_reported_and_the_oasis_validator_also_rejects_it(
    change: dict[str, Any], problem: str, oasis_rejects: bool
) -> None:
    """``oasis_rejects`` is False where the OASIS validator checks less: custom references, and the
    target type of ``created_by_ref``/``object_marking_refs`` (which markings and policy rely on)."""
    broken = VALID["indicator"] | change
    problems = check_object(broken)
    assert any(problem in p for p in problems), problems
    assert (deep_check(broken) != []) is oasis_rejects


def test_modified_equal_to_created_with_different_precision_is_fine() -> None:
    assert check_object(VALID["tool"] | {"created": T0, "modified": "2024-05-01T10:00:00.000000Z"}) == []


@pytest.mark.parametrize(
    ("kind", "change", "problem"),
    [
        ("location", {"region": None}, "a location needs `region`, `country` or `latitude` and `longitude`"),
        ("malware", {"name": None}, "missing required property `name` (required when `is_family` is true)"),
        ("malware-analysis", {"result": None}, "a malware-analysis needs `result` or `analysis_sco_refs`"),
        ("observed-data", {"objects": {"0": {"type": "file", "name": "a"}}}, "exactly one of `objects`"),
        ("marking-definition", {"modified": T1}, "a marking-definition has no `modified`"),
        ("marking-definition", {"definition": None}, "missing required property `definition`"),
    ],
)
def test_type_specific_rules(kind: str, change: dict[str, Any], problem: str) -> None:
    broken = {k: v for k, v in (VALID[kind] | change).items() if v is not None}
    assert any(problem in p for p in check_object(broken))
    assert deep_check(broken) != []


def test_malware_instance_needs_no_name() -> None:
    instance = without(VALID["malware"], "name") | {"is_family": False}
    assert check_object(instance) == []
    assert deep_check(instance) == []


def test_location_by_coordinates() -> None:
    located = without(VALID["location"], "region") | {"latitude": 48.8, "longitude": 2.3}
    assert check_object(located) == []
    assert check_object(without(located, "longitude")) != []


def test_custom_objects_and_properties_are_allowed() -> None:
    tactic = sdo(
        "x-mitre-tactic", "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", name="Collection", x_mitre_shortname="c"
    )
    assert check_object(tactic) == []
    assert check_object(VALID["indicator"] | {"x_acme_source_ref": IDENTITY, "x_acme_note": 1}) == []
    custom_sco = {"type": "x-acme-sensor", "id": "x-acme-sensor--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}
    assert check_object(custom_sco | {"spec_version": "2.1"}) == []  # custom: no created/modified needed
    assert check_object(custom_sco | {"spec_version": "2.1", "created": "now"}) != []  # checked if present


def test_not_an_object_and_not_a_bundle() -> None:
    assert check_object([1]) == ["not a JSON object but a JSON list"]
    assert check_object({"type": "bundle", "id": "bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}) == [
        "a bundle cannot be stored as an object (bundles hold objects)"
    ]


def test_describe_is_one_line_with_place_id_and_problems() -> None:
    broken = without(VALID["indicator"], "pattern")
    line = describe("bundle.json", 12, broken, check_object(broken))
    assert line == f"bundle.json object #12 ({INDICATOR}): missing required property `pattern`"
    assert describe("x.jsonl", 11, {}, ["a", "b"], kind="jsonl") == "x.jsonl line 12: a; b"
    long_id = "indicator--" + "a" * 500
    assert len(describe("f", 0, {"id": long_id}, ["p"])) < 130


def test_deep_check_works_offline() -> None:
    """A fresh process with sockets disabled loads the schemas and validates every kind of object."""
    script = (
        "import socket, sys, orjson\n"
        "def refuse(*a, **k):\n"
        "    raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from tearline.stix.validate import deep_check\n"
        "objects = orjson.loads(sys.stdin.buffer.read())\n"
        "print(sum(len(deep_check(o)) for o in objects))\n"
    )
    objects = [*VALID.values(), SCO, without(VALID["report"], "name")]
    done = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", script],
        input=orjson.dumps(objects),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().strip() == "1"  # the one broken report, nothing from the network


def test_deep_check_of_something_that_is_not_stix() -> None:
    assert deep_check({"name": "x"}) != []


# --- timestamps: the fast check accepts exactly what parse_timestamp accepts ------------------------

stamp_text = st.one_of(
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"),
    st.from_regex(r"\A[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\.[0-9]{1,10})?Z\Z"),
    st.text(alphabet=st.characters(max_codepoint=127), max_size=30),
)


@given(stamp_text)
def test_is_timestamp_agrees_with_parse_timestamp(text: str) -> None:
    try:
        parse_timestamp(text)
        parses = True
    except ValueError:
        parses = False
    assert is_timestamp(text) is parses
    assert is_timestamp(text) is parses  # the second answer comes from the cache


def test_is_timestamp_wants_ascii_digits() -> None:
    assert is_timestamp("2024-05-01T10:00:00.000Z")
    assert not is_timestamp("2024-0\u0665-01T10:00:00.000Z")  # an Arabic-Indic five


# --- the ATT&CK bundles --------------------------------------------------------------------------


@cache
def attack_objects() -> dict[str, list[dict[str, Any]]]:
    if not ATTACK.is_dir():
        return {}
    return {p.name: orjson.loads(p.read_bytes())["objects"] for p in sorted(ATTACK.glob("*.json"))}


def need_attack() -> dict[str, list[dict[str, Any]]]:
    found = attack_objects()
    if not found:
        reason = f"ATT&CK bundles not found at {ATTACK.resolve()}"
        print(reason)
        pytest.skip(reason)
    return found


def test_every_attack_object_passes_check_object() -> None:
    bundles = need_attack()
    assert len(bundles) == 4
    for name, objects in bundles.items():
        bad = [describe(name, i, o, p) for i, o in enumerate(objects) if (p := check_object(o))]
        assert bad == [], bad[:5]
    assert sum(len(o) for o in bundles.values()) == 7496


def test_attack_sample_agrees_with_the_oasis_validator() -> None:
    objects = [o for objs in need_attack().values() for o in objs]
    sample = objects[:: len(objects) // 50][:50]
    assert len({o["type"] for o in sample}) >= 5
    for obj in sample:
        assert check_object(obj) == []
        assert deep_check(obj) == [], obj["id"]
        if obj["type"] in REQUIRED and REQUIRED[obj["type"]]:
            broken = without(copy.deepcopy(obj), REQUIRED[obj["type"]][0])
            assert check_object(broken) != []
            assert deep_check(broken) != []
        # The OASIS validator follows an object's own spec_version (a `2.0` object is judged by 2.0
        # rules and may pass); tearline stores 2.1 only, so its own check must refuse it.
        assert check_object(obj | {"spec_version": "2.0"}) == ["spec_version must be `2.1`, got `2.0`"]


def test_values_already_seen_valid_elsewhere_are_still_held_to_each_property_s_rules() -> None:
    """The checker remembers identifiers and timestamps it found valid; a remembered value must still
    be refused where the property asks more of it (a type, millisecond precision, an order)."""
    seconds_only = "2024-05-03T09:00:00Z"
    seen = VALID["indicator"] | {"valid_until": seconds_only, "object_refs": [MALWARE, IDENTITY]}
    assert check_object(seen) == []  # both identifiers and the timestamp are now remembered valid
    wrong_target = VALID["indicator"] | {"created_by_ref": MALWARE, "object_marking_refs": [TLP_GREEN, IDENTITY]}
    problems = check_object(wrong_target)
    assert any("`created_by_ref` must point at type `identity`" in p for p in problems), problems
    assert any("`object_marking_refs` must point at type `marking-definition`" in p for p in problems), problems
    coarse = VALID["indicator"] | {"created": seconds_only}
    assert any("`created` must be precise to the millisecond" in p for p in check_object(coarse))
    backwards = VALID["indicator"] | {"created": T1, "modified": T0}
    assert any("is earlier than `created`" in p for p in check_object(backwards))
    not_a_list = VALID["indicator"] | {"object_marking_refs": TLP_GREEN}
    assert any("must be a list of identifiers" in p for p in check_object(not_a_list))
    holds_a_number = VALID["indicator"] | {"object_marking_refs": [TLP_GREEN, 7]}
    assert any("holds `7`" in p for p in check_object(holds_a_number))


# --- what the checker remembers changes its speed, never its answer ------------------------------

_VALUES = st.sampled_from(
    [T0, T1, "2024-05-03T09:00:00Z", "2024-02-30T00:00:00.000Z", "yesterday", "", 7, None, True,
     IDENTITY, MALWARE, TLP_GREEN, "not--an-id", [TLP_GREEN], [IDENTITY, MALWARE], [], [7], TLP_GREEN + "x"]
)  # fmt: skip
_NAMES = st.sampled_from(
    ["type", "id", "spec_version", "created", "modified", "name", "valid_from", "valid_until", "published",
     "first_seen", "created_by_ref", "object_marking_refs", "object_refs", "source_ref", "x_acme_ref",
     "pattern", "value", "hashes", "granular_markings", "is_family"]
)  # fmt: skip


def _forget() -> None:
    from tearline.stix import validate

    validate._valid_identifiers.clear()
    validate._valid_timestamps.clear()
    validate._shapes.clear()


def _sibling(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """The same properties in the same order, each with a valid value (warms every cache)."""
    base = VALID.get(kind, {})

    def good(name: str) -> Any:
        if name in base:
            return base[name]
        if name.endswith("_refs"):
            return [TLP_GREEN] if name == "object_marking_refs" else [IDENTITY, MALWARE]
        if name.endswith("_ref"):
            return IDENTITY
        if name in ("created", "modified", "valid_from", "valid_until", "published", "first_seen"):
            return T0
        return "x"

    return {name: good(name) for name in obj}


@given(
    st.sampled_from([*VALID, "x-acme-thing", "ipv4-addr"]),
    st.lists(_NAMES, max_size=4),
    st.lists(st.tuples(_NAMES, _VALUES), max_size=5),
)
def test_an_answer_does_not_depend_on_what_the_checker_remembers(
    kind: str, dropped: list[str], changed: list[tuple[str, Any]]
) -> None:
    if kind in VALID:
        obj = dict(VALID[kind])
    elif kind == "ipv4-addr":
        obj = {"type": kind, "spec_version": "2.1", "id": IPV4, "value": "198.51.100.1"}
    else:
        obj = sdo(kind, "2f7e4a3c-8a4d-4f0b-9d5e-1c2b3a4d5e6f", x_acme_ref=IDENTITY)
    for name in dropped:
        obj.pop(name, None)
    for name, value in changed:
        obj[name] = value
    _forget()
    fresh = check_object(obj)
    _forget()
    if "type" in obj:  # first the same property names under another type
        other = "malware" if kind != "malware" else "tool"
        assert check_object(_sibling(obj, other) | {"type": other}) is not None
    assert check_object(_sibling(obj, kind)) is not None  # the same shape, valid values: all remembered
    assert check_object(obj) == fresh
    assert check_object(obj) == fresh  # and once more, with its own values remembered
