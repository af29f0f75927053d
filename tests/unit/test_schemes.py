"""National schemes: parsing on a UK node, the equivalence table's order, clearance by rank."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tearline.errors import LabelError
from tearline.model.labeltext import format_label, parse_label
from tearline.model.markings import Label, Tlp
from tearline.model.schemes import SCHEMES, infer_scheme, scheme

GBR = scheme("GBR")
NATO = scheme("NATO")


def test_uk_labels_parse_on_a_uk_node() -> None:
    label = parse_label("OFFICIAL//TLP:GREEN", GBR)
    assert label.classification == 0 and label.tlp is Tlp.GREEN
    sens = parse_label("OFFICIAL-SENSITIVE//REL TO USA, GBR", GBR)
    assert sens.classification == NATO.level("NATO RESTRICTED")
    assert sens.rel_to == frozenset({"USA", "GBR"})
    assert format_label(sens, GBR) == "OFFICIAL-SENSITIVE//REL TO USA, GBR"


def test_unknown_level_lists_the_schemes_levels() -> None:
    with pytest.raises(LabelError, match="OFFICIAL, OFFICIAL-SENSITIVE, SECRET, TOP SECRET"):
        parse_label("CONFIDENTIAL//TLP:GREEN", GBR)


def test_a_rank_without_a_name_cannot_be_written() -> None:
    with pytest.raises(LabelError, match="no name in scheme GBR"):
        format_label(Label(classification=2), GBR)


def test_infer_scheme() -> None:
    assert infer_scheme("NATO SECRET").code == "NATO"
    assert infer_scheme("official-sensitive").code == "GBR"
    assert infer_scheme("OFFICIAL:SENSITIVE").code == "AUS"
    with pytest.raises(ValueError, match="name the scheme"):
        infer_scheme("SECRET")


def test_uk_official_sensitive_against_nato_clearances() -> None:
    """OFFICIAL-SENSITIVE is rank 1 (NATO RESTRICTED): within NATO RESTRICTED and CONFIDENTIAL."""
    rank = GBR.level("OFFICIAL-SENSITIVE")
    assert rank <= NATO.level("NATO RESTRICTED")
    assert rank <= NATO.level("NATO CONFIDENTIAL")
    assert rank > NATO.level("NATO UNCLASSIFIED")


@given(st.sampled_from(sorted(SCHEMES)), st.data())
def test_equivalence_is_monotone(code: str, data: st.DataObject) -> None:
    s = SCHEMES[code]
    i = data.draw(st.integers(0, len(s.names) - 1))
    j = data.draw(st.integers(i, len(s.names) - 1))
    assert s.level(s.names[i]) <= s.level(s.names[j])


@given(
    st.sampled_from(sorted(SCHEMES)),
    st.sampled_from(sorted(SCHEMES)),
    st.data(),
)
def test_round_trip_and_translation(a: str, b: str, data: st.DataObject) -> None:
    sa, sb = SCHEMES[a], SCHEMES[b]
    name = data.draw(st.sampled_from(sa.names))
    label = parse_label(name + "//TLP:AMBER", sa)
    assert parse_label(format_label(label, sa), sa) == label
    if label.classification in sb.ranks:
        assert sb.level(sb.name(label.classification)) == label.classification


@given(
    st.sampled_from(sorted(SCHEMES)),
    st.sampled_from(sorted(SCHEMES)),
    st.data(),
)
def test_policy_never_releases_above_the_partners_equivalent_clearance(
    node: str, partner: str, data: st.DataObject
) -> None:
    """A label in the node's scheme against a clearance in the partner's: withheld iff above."""
    from tearline.model.partners import TrustProfile
    from tearline.policy.decide import Reason, label_withholds

    label = parse_label(data.draw(st.sampled_from(SCHEMES[node].names)), SCHEMES[node])
    cleared = SCHEMES[partner].level(data.draw(st.sampled_from(SCHEMES[partner].names)))
    profile = TrustProfile(partner="NATO", clearance=cleared, tlp_ceiling=Tlp.RED)
    withheld = Reason.ABOVE_CLEARANCE in label_withholds(label, profile)
    assert withheld == (label.classification > cleared)


def test_uk_official_sensitive_flows_to_nato_restricted_not_unclassified() -> None:
    from tearline.model.partners import TrustProfile
    from tearline.policy.decide import Reason, label_withholds

    label = parse_label("OFFICIAL-SENSITIVE//REL TO NATO", GBR)
    for clearance, withheld in (
        ("NATO UNCLASSIFIED", True),
        ("NATO RESTRICTED", False),
        ("NATO CONFIDENTIAL", False),
    ):
        profile = TrustProfile(partner="NATO", clearance=NATO.level(clearance), tlp_ceiling=Tlp.RED)
        assert (Reason.ABOVE_CLEARANCE in label_withholds(label, profile)) is withheld


@given(st.sampled_from(sorted(SCHEMES)), st.data())
def test_stix_round_trip_keeps_the_rank(code: str, data: st.DataObject) -> None:
    """The STIX/ACS mapping works on the common rank, so a national label round-trips."""
    from tearline.model.markings import MarkedItem
    from tearline.stix.markings import definitions_from_bundle, item_from_stix, item_to_stix

    s = SCHEMES[code]
    label = parse_label(data.draw(st.sampled_from(s.names)) + "//REL TO GBR, NATO//TLP:AMBER", s)
    obj = {"type": "indicator", "id": "indicator--00000000-0000-4000-8000-000000000001"}
    out, defs = item_to_stix(
        obj, MarkedItem(label=label), created="2026-01-01T00:00:00.000Z", created_by_ref=None
    )
    back = item_from_stix(out, definitions_from_bundle(defs), default=Label())
    assert back.label.classification == label.classification
    assert format_label(back.label, s) == format_label(label, s)
