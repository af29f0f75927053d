"""The tearline transform: what one recipient sees of one object, and when it is withheld instead."""

from __future__ import annotations

import copy
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tearline.model.markings import Label, MarkedItem, Portion, Tlp
from tearline.sanitize.tearline import SOURCE_TOKEN, TearlineResult, make_tearline, parse_selector
from tearline.services.intake import SOURCE_TOKEN as INTAKE_TOKEN

SECRET = Label(classification=3)
OPEN = Label(classification=0, tlp=Tlp.GREEN)
T = "2026-01-05T09:00:00.000Z"


def ident(n: int, kind: str = "x-thing") -> str:
    return f"{kind}--00000000-0000-4000-8000-{n:012d}"


def run(
    obj: dict[str, Any],
    portions: tuple[Portion, ...] = (),
    hidden: frozenset[str] = frozenset(),
    grades: dict[str, str] | None = None,
) -> TearlineResult:
    return make_tearline(
        obj,
        MarkedItem(label=OPEN, portions=portions),
        portion_visible=lambda label: label.classification == 0,
        ref_visible=lambda ref: ref not in hidden,
        source_text=lambda cover: f"a source graded {(grades or {}).get(cover, 'F6')}",
    )


def sdo(kind: str, **props: Any) -> dict[str, Any]:
    return {"type": kind, "spec_version": "2.1", "id": ident(0, kind), "created": T, "modified": T, **props}


def resolves(obj: Any, selector: str) -> bool:
    path = parse_selector(selector)
    assert path is not None
    cur = obj
    for step in path:
        try:
            cur = cur[step]
        except (KeyError, IndexError, TypeError):
            return False
    return True


# -- portions -------------------------------------------------------------------------------------
def test_an_invisible_portion_is_dropped_with_its_granular_marking() -> None:
    obj = sdo(
        "malware", name="Mal", is_family=False, description="sensitive text",
        granular_markings=[{"marking_ref": "marking-definition--x", "selectors": ["description", "name"]}],
    )
    res = run(obj, (Portion("description", SECRET), Portion("name", OPEN)))
    assert res.obj is not None and res.withheld_reason is None
    assert "description" not in res.obj
    assert res.dropped == ("description",)
    assert res.obj["granular_markings"] == [{"marking_ref": "marking-definition--x", "selectors": ["name"]}]
    assert [p.selector for p in res.portions] == ["name"]


def test_removing_a_list_item_repoints_later_selectors() -> None:
    refs = [{"source_name": f"s{i}", "url": f"https://e/{i}"} for i in range(3)]
    obj = sdo(
        "attack-pattern", name="AP", external_references=refs,
        granular_markings=[{"marking_ref": "marking-definition--x", "selectors": ["external_references.[2].url"]}],
    )
    res = run(obj, (Portion("external_references.[0]", SECRET), Portion("external_references.[2].url", OPEN)))
    assert res.obj is not None
    assert [r["source_name"] for r in res.obj["external_references"]] == ["s1", "s2"]
    assert res.obj["granular_markings"][0]["selectors"] == ["external_references.[1].url"]
    assert [p.selector for p in res.portions] == ["external_references.[1].url"]
    assert res.dropped == ("external_references.[0]",)


def test_an_external_reference_left_invalid_goes_whole() -> None:
    obj = sdo("tool", name="T", external_references=[{"source_name": "a", "url": "https://secret.example"},
                                                      {"source_name": "b", "external_id": "T1"}])
    res = run(obj, (Portion("external_references.[0].url", SECRET),))
    assert res.obj is not None
    assert res.obj["external_references"] == [{"source_name": "b", "external_id": "T1"}]
    res = run(obj, (Portion("external_references.[1].source_name", SECRET),))
    assert res.obj is not None and res.obj["external_references"] == [obj["external_references"][0]]
    # both go: the empty list goes too (STIX forbids empty lists)
    res = run(obj, (Portion("external_references.[0]", SECRET), Portion("external_references.[1]", SECRET)))
    assert res.obj is not None and "external_references" not in res.obj
    assert res.dropped == ("external_references",)


def test_a_kill_chain_phase_missing_a_name_goes_whole() -> None:
    obj = sdo("attack-pattern", name="AP", kill_chain_phases=[
        {"kill_chain_name": "mitre-attack", "phase_name": "secret-phase"},
        {"kill_chain_name": "mitre-attack", "phase_name": "execution"},
    ])
    res = run(obj, (Portion("kill_chain_phases.[0].phase_name", SECRET),))
    assert res.obj is not None
    assert res.obj["kill_chain_phases"] == [{"kill_chain_name": "mitre-attack", "phase_name": "execution"}]


def test_a_required_property_withholds_instead_of_dropping() -> None:
    ind = sdo("indicator", pattern="[ipv4-addr:value = '198.51.100.7']", pattern_type="stix", valid_from=T)
    assert run(ind, (Portion("pattern", SECRET),)).withheld_reason == "REQUIRED_PROPERTY_WITHHELD:pattern"
    mal = sdo("malware", name="Mal", is_family=True)
    assert run(mal, (Portion("name", SECRET),)).withheld_reason == "REQUIRED_PROPERTY_WITHHELD:name"
    res = run(sdo("malware", name="Mal", is_family=False), (Portion("name", SECRET),))
    assert res.obj is not None and "name" not in res.obj
    assert run(ind, (Portion("id", SECRET),)).withheld_reason == "REQUIRED_PROPERTY_WITHHELD:id"


def test_an_invisible_portion_that_selects_nothing_withholds() -> None:
    res = run(sdo("tool", name="T"), (Portion("description", SECRET),))
    assert res.obj is None and res.withheld_reason == "SELECTOR_UNRESOLVED:description"
    assert run(sdo("tool", name="T"), (Portion("description", OPEN),)).obj is not None


# -- references -----------------------------------------------------------------------------------
def test_invisible_refs_are_dropped_everywhere() -> None:
    hidden = frozenset({ident(1), ident(3), ident(5, "identity")})
    obj = sdo(
        "report", name="R", published=T, object_refs=[ident(1), ident(2), ident(3)],
        created_by_ref=ident(5, "identity"), object_marking_refs=[ident(1)],
        extensions={"extension-definition--e": {"extension_type": "property-extension", "about_ref": ident(3),
                                                "seen_refs": [ident(1), ident(4)]}},
    )
    res = run(obj, hidden=hidden)
    assert res.obj is not None
    assert res.obj["object_refs"] == [ident(2)]
    assert "created_by_ref" not in res.obj
    ext = res.obj["extensions"]["extension-definition--e"]
    assert ext == {"extension_type": "property-extension", "seen_refs": [ident(4)]}
    assert res.obj["object_marking_refs"] == [ident(1)]  # markings are the marking stage's business
    assert set(res.dropped) == {"created_by_ref", "object_refs.[0]", "object_refs.[2]",
                                "extensions.extension-definition--e.about_ref",
                                "extensions.extension-definition--e.seen_refs.[0]"}


def test_a_report_left_without_refs_is_withheld() -> None:
    obj = sdo("report", name="R", published=T, object_refs=[ident(1), ident(2)])
    res = run(obj, hidden=frozenset({ident(1), ident(2)}))
    assert res.obj is None and res.withheld_reason == "REQUIRED_PROPERTY_WITHHELD:object_refs"


def test_a_relationship_to_an_invisible_object_is_withheld() -> None:
    rel = sdo("relationship", relationship_type="uses", source_ref=ident(1), target_ref=ident(2))
    assert run(rel, hidden=frozenset({ident(2)})).withheld_reason == "REF_WITHHELD:target_ref"
    assert run(rel, hidden=frozenset({ident(1)})).withheld_reason == "REF_WITHHELD:source_ref"
    sighting = sdo("sighting", sighting_of_ref=ident(1), where_sighted_refs=[ident(2), ident(3)])
    assert run(sighting, hidden=frozenset({ident(1)})).withheld_reason == "REF_WITHHELD:sighting_of_ref"
    res = run(sighting, hidden=frozenset({ident(2)}))
    assert res.obj is not None and res.obj["where_sighted_refs"] == [ident(3)]


# -- source tokens --------------------------------------------------------------------------------
def test_source_tokens_become_what_the_recipient_may_see() -> None:
    obj = sdo("note", content="per {{source:nightjar}} and {{source:KESTREL}}", object_refs=[ident(1)],
              abstract="{{source:NIGHTJAR}}")
    res = run(obj, grades={"NIGHTJAR": "B2"})
    assert res.obj is not None
    assert res.obj["content"] == "per a source graded B2 and a source graded F6"
    assert res.obj["abstract"] == "a source graded B2"


def test_a_malformed_token_withholds() -> None:
    res = run(sdo("tool", name="T", description="per {{source:bad cover}}"))
    assert res.obj is None and res.withheld_reason == "SOURCE_TOKEN_UNRESOLVED"
    res = run(sdo("tool", name="T", x_extra={"{{source:A1}}": "x"}))
    assert res.obj is None and res.withheld_reason == "SOURCE_TOKEN_UNRESOLVED"


def test_the_token_pattern_is_the_intake_pattern() -> None:
    assert SOURCE_TOKEN.pattern == INTAKE_TOKEN.pattern


def test_the_input_is_not_changed_and_the_output_is_deterministic() -> None:
    obj = sdo("report", name="R", published=T, object_refs=[ident(1), ident(2)], description="d {{source:A1}}")
    before = copy.deepcopy(obj)
    portions = (Portion("description", SECRET),)
    first = run(obj, portions, frozenset({ident(1)}))
    assert obj == before
    assert first == run(obj, portions, frozenset({ident(1)}))


# -- properties -----------------------------------------------------------------------------------
COVERS = ["NIGHTJAR", "KESTREL", "osprey"]


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[Portion, ...], frozenset[str], list[str]]:
    """An object with marker values (``v<n>x``, never a substring of another), refs, tokens, portions."""
    counter = iter(range(10_000))

    def text() -> str:
        n = next(counter)
        cover = draw(st.sampled_from([None, *COVERS]))
        return f"v{n}x" + (f" {{{{source:{cover}}}}}" if cover else "")

    ids = [ident(i) for i in range(8)]
    kind = draw(st.sampled_from(["report", "note", "malware", "x-custom", "grouping"]))
    obj: dict[str, Any] = sdo(kind)
    obj.update(name=text(), description=text(), context="ctx", content=text(), is_family=False, published=T)
    obj["object_refs"] = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=5))
    if draw(st.booleans()):
        obj["created_by_ref"] = draw(st.sampled_from(ids))
    refs = [
        {"source_name": text(), "url": text(), **({"external_id": text()} if draw(st.booleans()) else {})}
        for _ in range(draw(st.integers(0, 3)))
    ]
    if refs:
        obj["external_references"] = refs
    if draw(st.booleans()):
        obj["extensions"] = {"extension-definition--e": {
            "extension_type": "property-extension", "note": text(), "about_ref": draw(st.sampled_from(ids)),
            "seen_refs": draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3)),
        }}
    leaves = _selectors(obj)
    chosen = draw(st.lists(st.sampled_from(leaves), unique=True, max_size=5))
    portions = tuple(Portion(sel, draw(st.sampled_from([SECRET, OPEN]))) for sel in chosen)
    if portions:
        obj["granular_markings"] = [{"marking_ref": "marking-definition--m", "selectors": [p.selector]}
                                    for p in portions]
    hidden = frozenset(draw(st.lists(st.sampled_from(ids), max_size=4)))
    return obj, portions, hidden, leaves


def _selectors(value: Any, path: str = "") -> list[str]:
    out = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for k, v in items:
        step = f"[{k}]" if isinstance(k, int) else k
        p = f"{path}.{step}" if path else step
        if p not in ("type", "id", "spec_version", "created", "modified"):
            out.append(p)
        out.extend(_selectors(v, p))
    return out


def _markers(value: Any) -> set[str]:
    text = orjson.dumps(value).decode()
    import re

    return set(re.findall(r"v[0-9]+x", text))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_nothing_withheld_or_dropped_ever_shows(case: tuple[dict[str, Any], tuple[Portion, ...], frozenset[str],
                                                            list[str]]) -> None:
    obj, portions, hidden, _ = case
    before = copy.deepcopy(obj)
    res = run(obj, portions, hidden)
    assert obj == before
    if res.obj is None:
        assert res.withheld_reason
        return
    out = orjson.dumps(res.obj).decode()
    secret = set().union(*(_markers(_at(obj, p.selector)) for p in portions if p.label is SECRET))
    assert not secret & _markers(res.obj)
    for ref in hidden:
        assert ref not in out.replace(f'"object_marking_refs":["{ref}"]', "")
    assert "{{source:" not in out
    for g in res.obj.get("granular_markings", []):
        assert g["selectors"] and all(resolves(res.obj, s) for s in g["selectors"])
    for p in res.portions:
        assert p.label is OPEN and resolves(res.obj, p.selector)
    assert res == run(obj, portions, hidden)


@settings(max_examples=200, deadline=None)
@given(cases())
def test_an_object_with_nothing_to_remove_comes_back_equal(
    case: tuple[dict[str, Any], tuple[Portion, ...], frozenset[str], list[str]],
) -> None:
    obj, portions, _, _ = case
    clean = orjson.loads(orjson.dumps(obj).decode().replace("{{source:", "(source:").encode())
    visible = tuple(Portion(p.selector, OPEN) for p in portions)
    res = run(clean, visible, frozenset())
    assert res.obj == clean and res.withheld_reason is None and res.dropped == ()
    assert [p.selector for p in res.portions] == [p.selector for p in visible]


def _at(obj: Any, selector: str) -> Any:
    cur = obj
    for step in parse_selector(selector) or ():
        cur = cur[step]
    return cur
