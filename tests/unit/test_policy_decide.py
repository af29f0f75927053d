"""The scalar release policy: the data-file cases, every reason code, and the invariants of decide.

The hypothesis strategies (``policy_items``, ``profiles``, ``times``) live in ``tests/strategies.py``,
shared with the vectorised engine's property test and the what-if test.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import BASE, policy_items, policy_labels, profiles, times

from tearline.model.markings import DEFAULT_SCHEME, Label, MarkedItem, Portion, Tlp
from tearline.model.partners import TrustProfile
from tearline.model.releases import Decision, Reason, Verdict
from tearline.policy.decide import LABEL_FIELDS, RULES, decide, unhandled_fields

CASES = Path(__file__).resolve().parents[1] / "policy_cases"
CASE_FILES = sorted(CASES.glob("*.json"))
_LABEL_KEYS = {
    "classification", "tlp", "rel_to", "noforn", "orcon", "topics", "source_refs", "originator",
    "further_sharing",
}


def load_label(data: dict[str, Any]) -> Label:
    """A label from its structured JSON form (classification as a level or a name, TLP as text)."""
    unknown = set(data) - _LABEL_KEYS
    assert not unknown, f"unknown label keys {sorted(unknown)}"
    c = data.get("classification", 0)
    fs = data.get("further_sharing")
    return Label(
        classification=c if isinstance(c, int) else DEFAULT_SCHEME.level(c),
        tlp=Tlp.from_text(data.get("tlp", "CLEAR")),
        rel_to=frozenset(data.get("rel_to", ())),
        noforn=data.get("noforn", False),
        orcon=data.get("orcon", False),
        topics=frozenset(data.get("topics", ())),
        source_refs=frozenset(data.get("source_refs", ())),
        originator=data.get("originator"),
        further_sharing=None if fs is None else frozenset(fs),
    )


def load_profile(data: dict[str, Any]) -> TrustProfile:
    return TrustProfile(
        partner=data["partner"],
        clearance=data.get("clearance", 0),
        tlp_ceiling=Tlp.from_text(data.get("tlp_ceiling", "GREEN")),
        excluded_topics=frozenset(data.get("excluded_topics", ())),
        embargo=timedelta(seconds=data.get("embargo_s", 0)),
        sanitised_only=data.get("sanitised_only", False),
        suspended=data.get("suspended", False),
    )


def load_case(path: Path) -> tuple[MarkedItem, TrustProfile, datetime, datetime, bool, Decision]:
    case = json.loads(path.read_text())
    portions = tuple(Portion(p["selector"], load_label(p["label"])) for p in case.get("portions", ()))
    expect = Decision(Verdict[case["expect"]["verdict"]], tuple(case["expect"]["reasons"]))
    return (
        MarkedItem(load_label(case["label"]), portions),
        load_profile(case["profile"]),
        datetime.fromisoformat(case["at"]),
        datetime.fromisoformat(case["added"]),
        case.get("approved", False),
        expect,
    )


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_policy_case(path: Path) -> None:
    item, profile, at, added, approved, expect = load_case(path)
    assert decide(item, profile, at, added=added, approved=approved) == expect


def test_every_reason_code_has_a_case() -> None:
    seen = set()
    for path in CASE_FILES:
        seen.update(r.split(":", 1)[0] for r in json.loads(path.read_text())["expect"]["reasons"])
    assert seen == {code for code, _ in RULES} | {Reason.UNHANDLED}
    assert len(CASE_FILES) >= 40


# -- invariants -------------------------------------------------------------------------------------

_ORDER = {code: i for i, (code, _) in enumerate(RULES)}
_SEVERITY = dict(RULES)


@settings(max_examples=300)
@given(policy_items(), profiles(), times(), st.booleans())
def test_verdict_is_most_severe_reason_and_reasons_are_ordered(
    item: MarkedItem, profile: TrustProfile, at: datetime, approved: bool
) -> None:
    d = decide(item, profile, at, added=BASE, approved=approved)
    kinds = [r.split(":", 1)[0] for r in d.reasons]
    assert d.verdict == max((_SEVERITY[k] for k in kinds), default=Verdict.RELEASE)
    assert [(_ORDER[k], r) for k, r in zip(kinds, d.reasons, strict=True)] == sorted(
        (_ORDER[k], r) for k, r in zip(kinds, d.reasons, strict=True)
    )
    assert len(set(d.reasons)) == len(d.reasons)
    assert d == decide(item, profile, at, added=BASE, approved=approved)  # deterministic


@settings(max_examples=200)
@given(policy_items(), profiles(), profiles(), times(), st.booleans())
def test_a_narrower_profile_never_gives_a_less_severe_verdict(
    item: MarkedItem, wide: TrustProfile, other: TrustProfile, at: datetime, approved: bool
) -> None:
    narrow = TrustProfile(
        partner=wide.partner,
        clearance=min(wide.clearance, other.clearance),
        tlp_ceiling=min(wide.tlp_ceiling, other.tlp_ceiling),
        excluded_topics=wide.excluded_topics | other.excluded_topics,
        embargo=max(wide.embargo, other.embargo),
        sanitised_only=wide.sanitised_only or other.sanitised_only,
        suspended=wide.suspended or other.suspended,
    )
    assert wide.narrows(narrow) == []
    before = decide(item, wide, at, added=BASE, approved=approved)
    after = decide(item, narrow, at, added=BASE, approved=approved)
    assert after.verdict >= before.verdict


@settings(max_examples=200)
@given(policy_items(), profiles(), times())
def test_an_approval_only_lifts_approval_holds(item: MarkedItem, profile: TrustProfile, at: datetime) -> None:
    without = decide(item, profile, at, added=BASE)
    with_ = decide(item, profile, at, added=BASE, approved=True)
    lifted = {Reason.TLP_RED, Reason.ORCON_APPROVAL_REQUIRED}
    pw = Reason.PORTION_WITHHELD
    assert [r for r in with_.reasons if r not in (Reason.APPROVED, pw)] == [
        r for r in without.reasons if r not in lifted and r != pw
    ]
    assert pw not in with_.reasons or pw in without.reasons  # an approval can only keep more portions
    assert with_.verdict <= without.verdict
    assert (Reason.APPROVED in with_.reasons) == (bool(lifted & set(without.reasons)) and with_.released)
    if Reason.APPROVED in with_.reasons:
        assert without.verdict == Verdict.HOLD


@given(policy_labels(), profiles(), times())
def test_label_and_item_without_portions_decide_alike(label: Label, profile: TrustProfile, at: datetime) -> None:
    assert decide(label, profile, at, added=BASE) == decide(MarkedItem(label), profile, at, added=BASE)


@given(policy_items(), profiles(), times(), st.booleans())
def test_own_objects_are_always_released(item: MarkedItem, profile: TrustProfile, at: datetime, approved: bool) -> None:
    own = replace(item, label=replace(item.label, originator=profile.partner))
    assert decide(own, profile, at, added=BASE, approved=approved) == Decision(Verdict.RELEASE, (Reason.OWN_OBJECT,))


# -- embargo boundaries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset_us", "held"), [(-86_400_000_000, True), (-1, True), (0, False), (1, False), (10**12, False)]
)
def test_embargo_boundary(offset_us: int, held: bool) -> None:
    profile = TrustProfile("GBR", tlp_ceiling=Tlp.GREEN, embargo=timedelta(days=1))
    at = BASE + timedelta(days=1) + timedelta(microseconds=offset_us)
    d = decide(Label(tlp=Tlp.GREEN), profile, at, added=BASE)
    if held:
        assert d == Decision(Verdict.HOLD, ("EMBARGO_UNTIL:2026-06-02T00:00:00.000000Z",))
    else:
        assert d == Decision(Verdict.RELEASE, ())


@pytest.mark.parametrize("embargo", [timedelta(0), timedelta(seconds=-1)])
def test_no_embargo_releases_at_once(embargo: timedelta) -> None:
    profile = TrustProfile("GBR", embargo=embargo)
    assert decide(Label(), profile, BASE, added=BASE) == Decision(Verdict.RELEASE, ())


def test_embargo_until_is_formatted_in_utc() -> None:
    added = datetime.fromisoformat("2026-06-01T02:30:00.5+02:00")
    profile = TrustProfile("GBR", embargo=timedelta(minutes=90))
    d = decide(Label(), profile, added, added=added)
    assert d.reasons == ("EMBARGO_UNTIL:2026-06-01T02:00:00.500000Z",)


# -- totality ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "broken",
    [
        TrustProfile("GBR", excluded_topics=None),  # type: ignore[arg-type]
        TrustProfile("GBR", clearance="high"),  # type: ignore[arg-type]
        TrustProfile("GBR", embargo=3600),  # type: ignore[arg-type]
    ],
)
def test_a_value_no_rule_is_written_for_withholds_naming_the_field(broken: TrustProfile) -> None:
    label = Label(topics=frozenset({"russia"}), classification=1)
    field = next(n for n in ("excluded_topics", "clearance", "embargo") if getattr(broken, n) != getattr(
        TrustProfile("GBR"), n))
    assert decide(label, broken, BASE, added=BASE) == Decision(Verdict.WITHHOLD, (f"{Reason.UNHANDLED}:{field}",))


class _Exploding(frozenset[str]):
    """Topics that pass every value check and fail when a rule compares them."""

    def __and__(self, other: object) -> frozenset[str]:
        raise RuntimeError("a broken rule")


def test_a_rule_that_fails_withholds_with_policy_error_naming_it() -> None:
    label = Label(topics=_Exploding({"russia"}))
    assert decide(label, TrustProfile("GBR"), BASE, added=BASE) == Decision(
        Verdict.WITHHOLD, (f"{Reason.POLICY_ERROR}:LABEL",)
    )


def test_a_label_field_no_rule_reads_withholds_every_decision() -> None:
    @dataclasses.dataclass(frozen=True)
    class NewerLabel(Label):
        caveat: str = "EYES ONLY"  # a field a newer model adds, with no rule yet

    d = decide(NewerLabel(), TrustProfile("GBR", clearance=4, tlp_ceiling=Tlp.RED), BASE, added=BASE)
    assert d == Decision(Verdict.WITHHOLD, (f"{Reason.UNHANDLED}:caveat",))
    assert unhandled_fields() == ()  # every field of today's model has its rules
    assert set(LABEL_FIELDS) == {f.name for f in dataclasses.fields(Label)}


def test_naive_times_are_a_policy_error() -> None:
    naive = datetime(2026, 6, 1)
    error = (f"{Reason.POLICY_ERROR}:TIME",)
    assert decide(Label(), TrustProfile("GBR"), BASE, added=naive).reasons == error
    assert decide(Label(), TrustProfile("GBR"), naive, added=BASE).reasons == error
