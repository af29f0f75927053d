"""Labels to STIX 2.1 markings and back: round trips, stable ids, TLP 1.0/2.0, ACS from elsewhere."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from typing import Any

import pytest
import stix2
import stix2validator
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import CREATED, ME, OBJ, SELECTORS, stix_items, stix_labels

from tearline.errors import StixError
from tearline.model.labeltext import parse_label
from tearline.model.markings import DEFAULT_SCHEME, Label, MarkedItem, Portion, Tlp
from tearline.stix.markings import (
    ACS_EXTENSION_ID,
    MARKING_NAMESPACE,
    TEARLINE_EXTENSION_ID,
    TLP2_MARKING_IDS,
    TLP_MARKING_IDS,
    definitions_from_bundle,
    is_marking_definition,
    item_from_stix,
    item_to_stix,
    label_to_markings,
    tlp_definition,
)


def _mark(item: MarkedItem, **kw: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return item_to_stix(OBJ, item, created=CREATED, created_by_ref=ME, **kw)


# --- round trips ----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(stix_items(), stix_labels())
def test_item_round_trips_through_stix_whatever_the_default(item: MarkedItem, default: Label) -> None:
    out, defs = _mark(item)
    assert item_from_stix(out, definitions_from_bundle(defs), default=default) == item


@settings(max_examples=100, deadline=None)
@given(stix_labels(sources=True), st.sampled_from(SELECTORS))
def test_source_refs_are_never_emitted(label: Label, selector: str) -> None:
    item = MarkedItem(label, (Portion(selector, label),))
    out, defs = _mark(item)
    text = json.dumps([out, defs])
    for ref in label.source_refs:
        assert ref not in text
    back = item_from_stix(out, definitions_from_bundle(defs), default=Label(source_refs=frozenset({"dflt"})))
    assert back.label == dataclasses.replace(label, source_refs=frozenset({"dflt"}))


def test_object_is_copied_not_changed() -> None:
    before = json.dumps(OBJ, sort_keys=True)
    out, _ = _mark(MarkedItem(Label(), (Portion("name", Label(classification=3)),)))
    assert json.dumps(OBJ, sort_keys=True) == before
    assert out["granular_markings"][0] == {"marking_ref": TLP2_MARKING_IDS[Tlp.CLEAR], "selectors": ["name"]}
    assert "granular_markings" not in _mark(MarkedItem(Label()))[0]


# --- ids --------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(stix_labels(), stix_labels())
def test_marking_ids_are_deterministic_and_change_with_the_label(a: Label, b: Label) -> None:
    refs_a, defs_a = label_to_markings(a, created=CREATED, created_by_ref=ME)
    again, _ = label_to_markings(a, created="2030-01-01T00:00:00Z", created_by_ref=ME)
    assert refs_a == again
    refs_b, _ = label_to_markings(b, created=CREATED, created_by_ref=ME)
    # TLP travels in its own standard marking; everything else is the tearline/ACS marking's content.
    assert (refs_a[1] == refs_b[1]) == (dataclasses.replace(a, tlp=b.tlp) == b)
    assert (refs_a[0] == refs_b[0]) == (a.tlp == b.tlp)
    assert [d["id"] for d in defs_a] == refs_a


def test_marking_id_depends_on_the_author() -> None:
    one, _ = label_to_markings(Label(), created=CREATED, created_by_ref=ME)
    other, _ = label_to_markings(Label(), created=CREATED, created_by_ref=None)
    assert one[1] != other[1]


# --- TLP -------------------------------------------------------------------------------------------


def test_tlp_ids_are_the_published_ones() -> None:
    # TLP 1.0: as predefined in STIX 2.1 and shipped by the reference library.
    for tlp, md in [(Tlp.CLEAR, stix2.TLP_WHITE), (Tlp.GREEN, stix2.TLP_GREEN), (Tlp.RED, stix2.TLP_RED)]:
        assert TLP_MARKING_IDS[md.id] is tlp
    assert TLP_MARKING_IDS[stix2.TLP_AMBER.id] is Tlp.AMBER
    # TLP 2.0: OASIS cti-stix-common-objects, extension-definition--60a3c5c5-...
    assert TLP2_MARKING_IDS == {
        Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    }
    assert tlp_definition(Tlp.AMBER_STRICT)["extensions"] == {
        "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
            "extension_type": "property-extension",
            "tlp_2_0": "amber+strict",
        }
    }


@pytest.mark.parametrize(
    ("marking", "tlp"),
    [
        (stix2.TLP_WHITE, Tlp.CLEAR),
        (stix2.TLP_GREEN, Tlp.GREEN),
        (stix2.TLP_AMBER, Tlp.AMBER),
        (stix2.TLP_RED, Tlp.RED),
    ],
)
def test_tlp_1_read_and_other_parts_from_the_default(marking: Any, tlp: Tlp) -> None:
    default = parse_label("SECRET//REL TO USA, GBR//TLP:AMBER+STRICT//TOPICS russia")
    obj = {**OBJ, "object_marking_refs": [marking.id]}
    assert item_from_stix(obj, {}, default=default).label == dataclasses.replace(default, tlp=tlp)


def test_tlp_of_an_unmarked_object_is_the_default_and_a_clear_one_stays_clear() -> None:
    default = Label(tlp=Tlp.AMBER)
    assert item_from_stix(OBJ, {}, default=default).label.tlp is Tlp.AMBER
    clear = {**OBJ, "object_marking_refs": [TLP2_MARKING_IDS[Tlp.CLEAR]]}
    assert item_from_stix(clear, {}, default=default).label.tlp is Tlp.CLEAR


def test_a_custom_tlp_definition_in_the_bundle_is_read() -> None:
    md = {"type": "marking-definition", "id": "marking-definition--1b4e5a2e-95a8-4d3c-8d17-63d3e0cfb8a1",
          "created": CREATED, "definition_type": "tlp", "definition": {"tlp": "white"}}  # fmt: skip
    obj = {**OBJ, "object_marking_refs": [md["id"]]}
    assert (
        item_from_stix(obj, definitions_from_bundle([md, OBJ]), default=Label(tlp=Tlp.RED)).label.tlp
        is Tlp.CLEAR
    )


# --- ACS from other producers ----------------------------------------------------------------------


def _acs(ext: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": "marking-definition--e3896452-4dcf-4e19-a571-8571c1c530a2",
        "created": "2020-06-18T00:00:00Z",
        "extensions": {ACS_EXTENSION_ID: {"extension_type": "property-extension", **ext}},
    }


def _read(md: dict[str, Any], default: Label = Label()) -> Label:
    obj = {**OBJ, "object_marking_refs": [md["id"]]}
    return item_from_stix(obj, {md["id"]: md}, default=default).label


def test_foreign_acs_marking_maps_conservatively() -> None:
    md = _acs(
        {
            "policy_reference": "urn:isa:policy:acs:ns:v3.0?privdefault=deny&sharedefault=deny",
            "control_set": {
                "classification": "C",
                "permitted_nationalities": ["USA", "GBR"],
                "formal_determination": ["NF", "AIS"],
            },
            "further_sharing": [{"sharing_scope": ["USA.USG", "CAN"], "rule_effect": "permit"}],
        }
    )
    default = Label(orcon=True, topics=frozenset({"x"}), tlp=Tlp.GREEN)
    label = _read(md, default)
    # C covers RESTRICTED and CONFIDENTIAL: unsure means the higher one.
    assert label.classification == DEFAULT_SCHEME.level("CONFIDENTIAL")
    assert label.rel_to == {"USA", "GBR"} and label.noforn
    assert label.further_sharing == frozenset({"CAN"})  # an ACS organisation is not a partner code: dropped
    # orcon, topics and tlp are not carried by an ACS marking: they come from the default
    assert (label.orcon, label.topics, label.tlp) == (True, frozenset({"x"}), Tlp.GREEN)


def test_acs_sharedefault_deny_without_rules_means_no_further_sharing() -> None:
    ext = {"policy_reference": "urn:isa:policy:acs:ns:v3.0?privdefault=permit&sharedefault=deny"}
    assert _read(_acs({**ext, "control_set": {"classification": "TS"}})).further_sharing == frozenset()
    assert _read(_acs({"control_set": {"classification": "U"}})).further_sharing is None


def test_bad_acs_classification_is_refused() -> None:
    with pytest.raises(StixError, match="unknown acs classification `X`"):
        _read(_acs({"control_set": {"classification": "X"}}))


# --- refusals --------------------------------------------------------------------------------------


def test_unknown_marking_id_is_named() -> None:
    ref = "marking-definition--00000000-0000-4000-8000-000000000000"
    with pytest.raises(StixError, match=f"unknown marking definition `{ref}`"):
        item_from_stix({**OBJ, "object_marking_refs": [ref]}, {}, default=Label())
    with pytest.raises(StixError, match=ref):
        item_from_stix(
            {**OBJ, "granular_markings": [{"marking_ref": ref, "selectors": ["name"]}]}, {}, default=Label()
        )


def test_statement_markings_are_ignored_and_unknown_kinds_refused() -> None:
    statement = stix2.v21.MarkingDefinition(definition_type="statement", definition={"statement": "(c) x"})
    md = json.loads(statement.serialize())
    assert _read(md, Label(classification=3)) == Label(classification=3)
    iep = {**md, "definition_type": "iep", "id": "marking-definition--5b7a9b9e-5e1a-4a55-9c3a-6b1e2f6f0c0d"}
    with pytest.raises(StixError, match="of a kind tearline does not read"):
        _read(iep)


def test_bad_selectors_are_refused() -> None:
    with pytest.raises(StixError, match="selector `labels` does not select"):
        _mark(MarkedItem(Label(), (Portion("labels", Label()),)))
    with pytest.raises(StixError, match=re.escape("selector `external_references.[3].url`")):
        _mark(MarkedItem(Label(), (Portion("external_references.[3].url", Label()),)))
    with pytest.raises(StixError, match="duplicate portion selector `name`"):
        _mark(MarkedItem(Label(), (Portion("name", Label()), Portion("name", Label(tlp=Tlp.RED)))))


def test_language_granular_markings_are_kept_and_skipped() -> None:
    obj = {**OBJ, "granular_markings": [{"lang": "en", "selectors": ["name"]}]}
    out, defs = item_to_stix(obj, MarkedItem(Label(), (Portion("description", Label(tlp=Tlp.RED)),)),
                             created=CREATED, created_by_ref=ME)  # fmt: skip
    assert out["granular_markings"][0] == {"lang": "en", "selectors": ["name"]}
    back = item_from_stix(out, definitions_from_bundle(defs), default=Label())
    assert [p.selector for p in back.portions] == ["description"]


def test_bad_timestamp_is_refused() -> None:
    with pytest.raises(StixError, match="not a STIX timestamp"):
        label_to_markings(Label(), created="yesterday", created_by_ref=None)


# --- what other STIX tools make of it --------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(stix_items())
def test_output_validates_and_parses_with_the_reference_tools(item: MarkedItem) -> None:
    out, defs = _mark(item, custodian="GBR.NCSC")
    assert all(is_marking_definition(d) for d in defs) and not is_marking_definition(out)
    for obj in [out, *defs]:
        result = stix2validator.validate_instance(obj)
        assert result.is_valid, [str(e) for e in result.errors]
        # The only warning is the UUIDv5 (content-derived) id of tearline's own marking.
        assert all("{103}" in str(w) for w in result.warnings)
    # stix2 3.0 does not descend into parsed sub-objects when it checks a selector, so it refuses
    # `external_references.[0].url` (valid STIX 2.1 §7.2.3.1); the validator above checks those.
    if all("." not in p.selector for p in item.portions):
        bundle = {
            "type": "bundle",
            "id": "bundle--6b3c1e0a-4a8f-4c37-9a38-0b8e2a2f9f11",
            "objects": [out, *defs],
        }
        parsed = stix2.parse(bundle, allow_custom=True)
        assert {o.id for o in parsed.objects} == {out["id"], *(d["id"] for d in defs)}
    acs = next(d for d in defs if ACS_EXTENSION_ID in d.get("extensions", {}))
    ext = acs["extensions"][ACS_EXTENSION_ID]
    assert ext["responsible_entity_custodian"] == "GBR.NCSC"
    assert ext["control_set"]["classification"] in {"U", "C", "S", "TS"}
    assert set(acs["extensions"][TEARLINE_EXTENSION_ID]) <= {
        "extension_type", "classification", "orcon", "topics", "originator", "further_sharing"
    }  # fmt: skip


# ISA ACS 3.0 JSON schema (cti-stix-common-objects, acs-marking-definition-3a6/isa-acs-3-0.json):
# the top-level and nested properties it allows (additionalProperties is false) and requires.
ACS_ALLOWED = {
    "extension_type", "identifier", "name", "create_date_time", "responsible_entity_custodian",
    "responsible_entity_originator", "authority_reference", "policy_reference", "original_classification",
    "derivative_classification", "declassification", "resource_disposition", "public_release",
    "access_privilege", "further_sharing", "control_set",
}  # fmt: skip
ACS_REQUIRED = {"identifier", "create_date_time", "responsible_entity_custodian", "policy_reference",
                "control_set", "extension_type"}  # fmt: skip
ACS_POLICY = re.compile(
    r"^(urn:isa:policy:acs:ns:v3\.0\?privdefault=(permit|deny)&sharedefault=(permit|deny)\s?)+$"
)


@settings(max_examples=100, deadline=None)
@given(stix_labels())
def test_acs_extension_keeps_to_the_acs_schema(label: Label) -> None:
    _, defs = label_to_markings(label, created=CREATED, created_by_ref=ME, custodian="GBR.NCSC")
    ext = defs[1]["extensions"][ACS_EXTENSION_ID]
    assert ACS_REQUIRED <= set(ext) <= ACS_ALLOWED
    assert ext["extension_type"] == "property-extension"
    assert ACS_POLICY.match(ext["policy_reference"])
    control = ext["control_set"]
    assert set(control) <= {"classification", "formal_determination", "permitted_nationalities"}
    assert control["classification"] in {"U", "C", "S", "TS"}
    assert all(v == "NF" for v in control.get("formal_determination", []))
    for rule in ext["access_privilege"]:
        assert set(rule) == {"privilege_action", "privilege_scope", "rule_effect"}
        assert rule["privilege_action"] in {"IDSRC", "TEARLINE"} and rule["rule_effect"] in {"permit", "deny"}
    for rule in ext.get("further_sharing", []):
        assert set(rule) == {"sharing_scope", "rule_effect"} and rule["sharing_scope"]


def test_tearline_ids_are_derived_as_documented() -> None:
    ns = uuid.uuid5(uuid.NAMESPACE_URL, "urn:tearline:stix:markings")
    assert ns == MARKING_NAMESPACE
    assert (
        f"extension-definition--{uuid.uuid5(ns, 'extension-definition:tearline-label:1')}"
        == TEARLINE_EXTENSION_ID
    )
