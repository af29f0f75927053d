"""Labels to STIX 2.1 data markings and back (pure functions over dicts).

Three marking kinds carry a :class:`~tearline.model.markings.Label` (``docs/labels.md`` has the table):

* **TLP** by the standard marking-definition ids. TLP 1.0 ids are predefined by STIX 2.1 §7.2.1.4;
  the TLP 2.0 ids and objects are those published by OASIS for extension
  ``extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d`` (cti-stix-common-objects,
  ``extension-definition-specifications/tlp-2.0``). Both are read; the 2.0 ones are written, with
  their standard objects so a bundle can carry them.
* **ISA ACS 3.0** (``extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce``, as used by CISA
  AIS): classification (``control_set.classification``), REL TO (``control_set.permitted_
  nationalities``), NOFORN (``control_set.formal_determination`` ``NF``), further sharing
  (``further_sharing`` / ``policy_reference`` ``sharedefault``) and the ``IDSRC``/``TEARLINE``
  access privileges.
* **tearline's own property extension** on the same marking-definition object
  (:data:`TEARLINE_EXTENSION_ID`) for what ACS cannot say exactly: the level name, ORCON, topics,
  the originator's partner code and the exact further-sharing set. Source references are never
  written anywhere.

Marking definitions are immutable, so the id of the ACS/tearline one is a UUIDv5 over the RFC 8785
form of its content without ``created``, ``create_date_time`` and ``identifier``: the same label
(for the same ``created_by_ref`` and custodian) always gives the same id, a changed label a new id.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from tearline.canonical import jcs, parse_timestamp
from tearline.errors import StixError
from tearline.model.labeltext import ALL, NONE, format_label
from tearline.model.markings import (
    DEFAULT_SCHEME,
    ClassificationScheme,
    Label,
    MarkedItem,
    Portion,
    Tlp,
    capco_order,
)
from tearline.model.partners import check_code

Json = dict[str, Any]

TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
ACS_EXTENSION_ID = "extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce"
# uuid5(NAMESPACE_URL, "urn:tearline:stix:markings"); the tearline extension id is uuid5 under it.
MARKING_NAMESPACE = uuid.UUID("f4476d4b-a36a-5714-803a-814a0c38635b")
TEARLINE_EXTENSION_ID = "extension-definition--225ce218-5b18-53e1-9dca-ed5a948e1ad7"

TLP1_MARKING_IDS: dict[str, Tlp] = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": Tlp.CLEAR,  # TLP:WHITE
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": Tlp.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": Tlp.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": Tlp.RED,
}
TLP2_MARKING_IDS: dict[Tlp, str] = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP_MARKING_IDS: dict[str, Tlp] = {**TLP1_MARKING_IDS, **{v: k for k, v in TLP2_MARKING_IDS.items()}}
TLP2_CREATED = "2022-10-01T00:00:00.000Z"

ACS_LEVELS = ("U", "C", "S", "TS")
_POLICY = "urn:isa:policy:acs:ns:v3.0?privdefault=permit&sharedefault={}"
_SHAREDEFAULT = re.compile(r"sharedefault=(permit|deny)")
_TOPIC = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def is_marking_definition(obj: Mapping[str, Any]) -> bool:
    return obj.get("type") == "marking-definition"


def tlp_definition(tlp: Tlp) -> Json:
    """The standard TLP 2.0 marking-definition object, as OASIS publishes it."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_MARKING_IDS[tlp],
        "created": TLP2_CREATED,
        "name": "TLP:" + tlp.text,
        "extensions": {
            TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": tlp.text.lower()}
        },
    }


def definitions_from_bundle(objects: Iterable[Mapping[str, Any]]) -> dict[str, Json]:
    """The marking-definition objects of a bundle's ``objects``, by id."""
    return {str(o["id"]): dict(o) for o in objects if is_marking_definition(o) and "id" in o}


# --- writing -------------------------------------------------------------------------------------


def label_to_markings(
    label: Label,
    *,
    created: str,
    created_by_ref: str | None,
    scheme: ClassificationScheme = DEFAULT_SCHEME,
    custodian: str | None = None,
) -> tuple[list[str], list[Json]]:
    """``object_marking_refs`` for ``label`` and the marking definitions they need (TLP 2.0, ACS).

    ``custodian`` is the node's ACS ``responsible_entity_custodian`` (``GBR.NCSC``); ACS consumers
    that validate against the ACS schema need it. Raise ``LabelError`` for a label without a
    canonical text form (see :func:`tearline.model.labeltext.check_label`).
    """
    _check_timestamp(created)
    acs = _acs_definition(label, created, created_by_ref, scheme, custodian)
    return [TLP2_MARKING_IDS[label.tlp], acs["id"]], [tlp_definition(label.tlp), acs]


def _acs_definition(
    label: Label,
    created: str,
    created_by_ref: str | None,
    scheme: ClassificationScheme,
    custodian: str | None,
) -> Json:
    banner = format_label(dataclasses.replace(label, tlp=Tlp.CLEAR, source_refs=frozenset()), scheme)
    if len(scheme.acs_codes) != len(scheme.names):
        raise StixError("the classification scheme needs one acs code per level")
    control: Json = {"classification": scheme.acs_codes[label.classification]}
    if label.rel_to:
        control["permitted_nationalities"] = capco_order(label.rel_to)
    if label.noforn:
        control["formal_determination"] = ["NF"]
    fs = label.further_sharing
    acs: Json = {
        "extension_type": "property-extension",
        "policy_reference": _POLICY.format("permit" if fs is None or ALL in fs else "deny"),
        "control_set": control,
        "access_privilege": [
            _privilege("IDSRC", "deny"),  # a recipient never learns the source
            _privilege("TEARLINE", "deny" if label.orcon else "permit"),
        ],
    }
    if fs and ALL not in fs:
        acs["further_sharing"] = [{"sharing_scope": capco_order(fs), "rule_effect": "permit"}]
    if custodian is not None:
        acs["responsible_entity_custodian"] = custodian
    own: Json = {"extension_type": "property-extension", "classification": scheme.name(label.classification)}
    if label.orcon:
        own["orcon"] = True
    if label.topics:
        own["topics"] = sorted(label.topics)
    if label.originator is not None:
        own["originator"] = label.originator
    if fs is not None:  # STIX lists may not be empty: no one is spelt `NONE`, as in the text form
        own["further_sharing"] = capco_order(fs) or [NONE]
    content: Json = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "name": banner,
        "extensions": {ACS_EXTENSION_ID: acs, TEARLINE_EXTENSION_ID: own},
    }
    if created_by_ref is not None:
        content["created_by_ref"] = created_by_ref
    uid = uuid.uuid5(MARKING_NAMESPACE, jcs(content).decode())
    acs["identifier"] = f"isa:tearline.{uid}"
    acs["create_date_time"] = created
    return {**content, "id": f"marking-definition--{uid}", "created": created}


def _privilege(action: str, effect: str) -> Json:
    return {
        "privilege_action": action,
        "privilege_scope": {"permitted_nationalities": ["ALL"]},
        "rule_effect": effect,
    }


def item_to_stix(
    obj: Mapping[str, Any],
    item: MarkedItem,
    *,
    created: str,
    created_by_ref: str | None,
    scheme: ClassificationScheme = DEFAULT_SCHEME,
    custodian: str | None = None,
) -> tuple[Json, list[Json]]:
    """A copy of ``obj`` marked with ``item`` and the marking definitions it references.

    ``object_marking_refs`` is replaced by the item label's markings; each portion becomes one
    granular marking per marking ref with that portion's selector, in portion order. Granular
    language markings (``lang``) already on ``obj`` are kept; other granular markings are replaced.
    """
    out: Json = copy.deepcopy(dict(obj))
    refs, defs = label_to_markings(
        item.label, created=created, created_by_ref=created_by_ref, scheme=scheme, custodian=custodian
    )
    out["object_marking_refs"] = refs
    granular = [g for g in out.get("granular_markings", []) if "marking_ref" not in g]
    seen: set[str] = set()
    for portion in item.portions:
        if portion.selector in seen:
            raise StixError(f"duplicate portion selector `{portion.selector}`")
        seen.add(portion.selector)
        if not _resolves(obj, portion.selector):
            raise StixError(f"selector `{portion.selector}` does not select a property of `{obj.get('id')}`")
        p_refs, p_defs = label_to_markings(
            portion.label, created=created, created_by_ref=created_by_ref, scheme=scheme, custodian=custodian
        )
        granular.extend({"marking_ref": r, "selectors": [portion.selector]} for r in p_refs)
        defs.extend(p_defs)
    if granular:
        out["granular_markings"] = granular
    else:
        out.pop("granular_markings", None)
    unique: dict[str, Json] = {}
    for d in defs:
        unique.setdefault(d["id"], d)
    return out, list(unique.values())


def _resolves(obj: Any, selector: str) -> bool:
    """Whether a STIX granular-marking selector (``a.b``, ``a.[0].b``) names an existing property."""
    cur = obj
    for step in selector.split("."):
        if step.startswith("[") and step.endswith("]") and step[1:-1].isdigit():
            if not isinstance(cur, list) or int(step[1:-1]) >= len(cur):
                return False
            cur = cur[int(step[1:-1])]
        elif isinstance(cur, Mapping) and step in cur:
            cur = cur[step]
        else:
            return False
    return True


# --- reading -------------------------------------------------------------------------------------


def item_from_stix(
    obj: Mapping[str, Any],
    definitions: Mapping[str, Mapping[str, Any]],
    *,
    default: Label,
    scheme: ClassificationScheme = DEFAULT_SCHEME,
) -> MarkedItem:
    """The labels an object's markings carry; parts it does not carry come from ``default``.

    A part is carried or not as a whole (TLP by a TLP marking; classification, REL TO and NOFORN
    by an ACS marking; ORCON, topics, originator by a tearline extension; further sharing by
    either), so an object marked TLP:CLEAR stays CLEAR whatever the default says. A portion's
    missing parts come from the object's label. Source references are never carried: they come
    from ``default``. Statement markings are ignored; language granular markings are skipped.
    """
    label = _label_from_refs(
        _str_list(obj.get("object_marking_refs", []), "object_marking_refs"), definitions, default, scheme
    )
    per_selector: dict[str, list[str]] = {}
    granular = obj.get("granular_markings", [])
    if not isinstance(granular, list):
        raise StixError("`granular_markings` must be a list")
    for g in granular:
        if not isinstance(g, Mapping) or not ("marking_ref" in g or "lang" in g):
            raise StixError(f"granular marking `{g}` has neither `marking_ref` nor `lang`")
        if "marking_ref" not in g:
            continue
        ref = g["marking_ref"]
        for sel in _str_list(g.get("selectors"), "selectors"):
            per_selector.setdefault(sel, []).append(str(ref))
    portions = tuple(
        Portion(sel, _label_from_refs(refs, definitions, label, scheme)) for sel, refs in per_selector.items()
    )
    return MarkedItem(label=label, portions=portions)


_NO_REFS: frozenset[str] = frozenset()
_LABEL_EXTENSIONS = frozenset({ACS_EXTENSION_ID, TEARLINE_EXTENSION_ID, TLP2_EXTENSION_ID})


def marking_refs(obj: Mapping[str, Any]) -> frozenset[str]:
    """The marking definitions an object refers to (``object_marking_refs`` and granular markings);
    values that are not marking-definition ids are left to the validator."""
    refs = obj.get("object_marking_refs")
    out = list(refs) if isinstance(refs, list) else []
    granular = obj.get("granular_markings")
    if isinstance(granular, list):
        out += [g.get("marking_ref") for g in granular if isinstance(g, Mapping)]
    if not out:
        return _NO_REFS
    return frozenset(r for r in out if isinstance(r, str) and r.startswith("marking-definition--"))


def is_statement(definition: Mapping[str, Any]) -> bool:
    """A ``statement`` marking definition (copyright, terms of use): it carries no label."""
    exts = definition.get("extensions")
    carries = isinstance(exts, Mapping) and bool(exts.keys() & _LABEL_EXTENSIONS)
    return definition.get("definition_type") == "statement" and not carries


def _label_from_refs(
    refs: list[str], definitions: Mapping[str, Mapping[str, Any]], base: Label, scheme: ClassificationScheme
) -> Label:
    tlps: list[Tlp] = []
    acs: Mapping[str, Any] | None = None
    own: Mapping[str, Any] | None = None
    for ref in refs:
        if ref in TLP_MARKING_IDS:
            tlps.append(TLP_MARKING_IDS[ref])
            continue
        d = definitions.get(ref)
        if d is None:
            raise StixError(f"unknown marking definition `{ref}`")
        exts = _mapping(d.get("extensions", {}), "extensions", ref)
        known = False
        if ACS_EXTENSION_ID in exts:
            if acs is not None:
                raise StixError(f"more than one acs marking on one object, at `{ref}`")
            acs, known = _mapping(exts[ACS_EXTENSION_ID], "acs extension", ref), True
        if TEARLINE_EXTENSION_ID in exts:
            if own is not None:
                raise StixError(f"more than one tearline marking on one object, at `{ref}`")
            own, known = _mapping(exts[TEARLINE_EXTENSION_ID], "tearline extension", ref), True
        if TLP2_EXTENSION_ID in exts:
            tlps.append(_tlp(_mapping(exts[TLP2_EXTENSION_ID], "tlp extension", ref).get("tlp_2_0"), ref))
        elif d.get("definition_type") == "tlp":
            tlps.append(_tlp(_mapping(d.get("definition"), "definition", ref).get("tlp"), ref))
        elif not known and d.get("definition_type") != "statement":
            raise StixError(f"marking definition `{ref}` is of a kind tearline does not read")
    classification, rel_to, noforn = base.classification, base.rel_to, base.noforn
    further = base.further_sharing
    if acs is not None:
        classification, rel_to, noforn, further = _from_acs(acs, own, scheme)
    orcon, topics, originator = base.orcon, base.topics, base.originator
    if own is not None:
        orcon = own.get("orcon", False) is True
        topics = frozenset(_topic(t) for t in _str_list(own.get("topics", []), "topics"))
        originator = None if own.get("originator") is None else _code(own["originator"], "originator")
        fs = own.get("further_sharing")
        further = None if fs is None else _further(_str_list(fs, "further_sharing"))
    return Label(
        classification=classification,
        tlp=max(tlps) if tlps else base.tlp,
        rel_to=rel_to,
        noforn=noforn,
        orcon=orcon,
        topics=topics,
        source_refs=base.source_refs,
        originator=originator,
        further_sharing=further,
    )


def _from_acs(
    acs: Mapping[str, Any], own: Mapping[str, Any] | None, scheme: ClassificationScheme
) -> tuple[int, frozenset[str], bool, frozenset[str] | None]:
    control = acs.get("control_set")
    if not isinstance(control, Mapping):
        raise StixError("acs marking without `control_set`")
    code = control.get("classification")
    if code not in ACS_LEVELS:
        raise StixError(f"unknown acs classification `{code}`")
    level = _level_for_code(str(code), own.get("classification") if own else None, scheme)
    nationalities = _str_list(control.get("permitted_nationalities", []), "permitted_nationalities")
    rel_to = frozenset(_code(c, "permitted_nationalities") for c in nationalities if c != "ALL")
    noforn = "NF" in _str_list(control.get("formal_determination", []), "formal_determination")
    further: frozenset[str] | None = None
    rules = acs.get("further_sharing")
    if isinstance(rules, list) and rules:
        # Only scopes that are partner codes are kept (ACS organisations like `USA.USG` are not):
        # dropping what cannot be read narrows the sharing, never widens it.
        scopes = [
            s
            for r in rules
            if isinstance(r, Mapping) and r.get("rule_effect") == "permit"
            for s in _str_list(r.get("sharing_scope", []), "sharing_scope")
        ]
        further = frozenset(_try_code(s) for s in scopes) - {""}
    else:
        m = _SHAREDEFAULT.search(str(acs.get("policy_reference", "")))
        if m and m.group(1) == "deny":
            further = frozenset()
    return level, rel_to, noforn, further


def _level_for_code(code: str, name: Any, scheme: ClassificationScheme) -> int:
    """The level named by the tearline extension if it agrees with the ACS code, else the highest
    level with that code (or the lowest above it): unsure means more restrictive."""
    if isinstance(name, str):
        try:
            level = scheme.level(name)
        except ValueError:
            level = -1
        if level >= 0 and scheme.acs_codes[level] == code:
            return level
    rank = ACS_LEVELS.index(code)
    same = [i for i, c in enumerate(scheme.acs_codes) if c == code]
    if same:
        return same[-1]
    above = [i for i, c in enumerate(scheme.acs_codes) if c in ACS_LEVELS and ACS_LEVELS.index(c) > rank]
    return above[0] if above else scheme.top


def _mapping(value: Any, name: str, ref: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise StixError(f"`{name}` of marking definition `{ref}` must be an object")
    return value


def _tlp(value: Any, ref: str) -> Tlp:
    try:
        return Tlp.from_text(str(value))
    except ValueError:
        raise StixError(f"unknown tlp `{value}` in marking definition `{ref}`") from None


def _str_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StixError(f"`{name}` must be a list of strings")
    return value


def _code(value: Any, where: str) -> str:
    try:
        return check_code(str(value))
    except ValueError:
        raise StixError(f"bad partner code `{value}` in {where}") from None


def _try_code(value: str) -> str:
    try:
        return check_code(value)
    except ValueError:
        return ""


def _topic(value: str) -> str:
    topic = value.lower()
    if not _TOPIC.match(topic):
        raise StixError(f"bad topic `{value}` in tearline marking")
    return topic


def _further(codes: list[str]) -> frozenset[str]:
    if codes == [NONE]:
        return frozenset()
    if codes == [ALL]:
        return frozenset({ALL})
    return frozenset(_code(c, "further_sharing") for c in codes)


def _check_timestamp(created: str) -> None:
    try:
        parse_timestamp(created)
    except ValueError as e:
        raise StixError(str(e)) from None


__all__ = [
    "ACS_EXTENSION_ID",
    "TEARLINE_EXTENSION_ID",
    "TLP2_EXTENSION_ID",
    "TLP2_MARKING_IDS",
    "TLP_MARKING_IDS",
    "definitions_from_bundle",
    "is_marking_definition",
    "is_statement",
    "item_from_stix",
    "item_to_stix",
    "label_to_markings",
    "marking_refs",
    "tlp_definition",
]
