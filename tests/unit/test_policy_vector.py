"""The vectorised engine equals the scalar reference, row by row, verdict and reason codes."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import BASE, policy_items, profiles, times

from tearline.canonical import to_micros
from tearline.model.markings import Label, MarkedItem, Portion, Tlp
from tearline.model.partners import TrustProfile
from tearline.model.releases import Reason, Verdict
from tearline.policy.columns import ColumnsBuilder, LabelColumns, Vocab
from tearline.policy.decide import decide
from tearline.policy.vector import BIT, compute, compute_matrix, reason_codes

Row = tuple[MarkedItem, datetime, bool]

_ADDED = st.sampled_from([-2, -1, 0, 1]).flatmap(
    lambda days: st.sampled_from([-1, 0, 1]).map(lambda us: BASE + timedelta(days=days, microseconds=us))
)


def rows_strategy(min_size: int = 0) -> st.SearchStrategy[list[Row]]:
    return st.lists(st.tuples(policy_items(), _ADDED, st.booleans()), min_size=min_size, max_size=12)


def build(rows: list[Row], builder: ColumnsBuilder | None = None, first_seq: int = 100) -> LabelColumns:
    b = builder if builder is not None else ColumnsBuilder(capacity=1)
    for i, (item, added, _) in enumerate(rows):
        b.append(first_seq + i, item, to_micros(added))
    return b.build()


def assert_equal_to_decide(cols: LabelColumns, rows: list[Row], profile: TrustProfile, at: datetime) -> None:
    approved = np.array([a for _, _, a in rows], dtype=np.bool_)
    at_us = to_micros(at)
    verdicts, bits = compute(cols, profile, at_us, approved)
    assert verdicts.dtype == np.uint8 and bits.dtype == np.uint32
    assert verdicts.shape == bits.shape == (len(rows),)
    for i, (item, added, ok) in enumerate(rows):
        d = decide(item, profile, at, added=added, approved=ok)
        assert (Verdict(int(verdicts[i])), reason_codes(bits, i, cols, profile, at_us)) == (d.verdict, d.reasons)


@settings(max_examples=300, deadline=None)
@given(rows_strategy(), profiles(), times())
def test_compute_equals_decide(rows: list[Row], profile: TrustProfile, at: datetime) -> None:
    assert_equal_to_decide(build(rows), rows, profile, at)


@settings(max_examples=50, deadline=None)
@given(rows_strategy(), st.lists(profiles(), min_size=1, max_size=4), times())
def test_matrix_equals_compute_per_partner(rows: list[Row], profs: list[TrustProfile], at: datetime) -> None:
    cols = build(rows)
    approved = {p.partner: np.array([a for _, _, a in rows], dtype=np.bool_) for p in profs[:1]}
    verdicts, bits = compute_matrix(cols, profs, to_micros(at), approved)
    assert verdicts.shape == bits.shape == (len(profs), len(rows))
    for k, p in enumerate(profs):
        v, b = compute(cols, p, to_micros(at), approved.get(p.partner))
        assert np.array_equal(verdicts[k], v) and np.array_equal(bits[k], b)


def test_vocabularies_grow_past_one_word() -> None:
    codes = [f"P{i:03d}" for i in range(150)]
    topics = [f"topic-{i}" for i in range(150)]
    rows: list[Row] = []
    for i in range(150):
        label = Label(
            tlp=Tlp.GREEN,
            rel_to=frozenset({codes[i], codes[-1 - i]}),
            topics=frozenset({topics[i], topics[(i * 7) % 150]}),
            originator=codes[(i * 3) % 150] if i % 2 else None,
            further_sharing=frozenset({codes[(i + 70) % 150]}) if i % 4 == 1 else None,
        )
        portion = Label(tlp=Tlp.GREEN, rel_to=frozenset({codes[(i + 1) % 150]}))
        rows.append((MarkedItem(label, (Portion("/x", portion),)), BASE, False))
    cols = build(rows)
    assert cols.rel_to.shape[1] == 3 and cols.topics.shape[1] == 3
    for partner in ("P000", "P075", "P149", "FRA"):
        excluded = frozenset({topics[1], topics[70], topics[140], "not-a-topic"})
        profile = TrustProfile(partner, excluded_topics=excluded)
        assert_equal_to_decide(cols, rows, profile, BASE)


@settings(max_examples=50, deadline=None)
@given(rows_strategy(min_size=1), rows_strategy(), profiles(), times())
def test_snapshots_stay_valid_while_the_builder_appends(
    first: list[Row], more: list[Row], profile: TrustProfile, at: datetime
) -> None:
    b = ColumnsBuilder(capacity=1)
    early = build(first, b)
    before = compute(early, profile, to_micros(at), np.array([a for _, _, a in first]))
    late = build(more, b, first_seq=100 + len(first))
    after = compute(early, profile, to_micros(at), np.array([a for _, _, a in first]))
    assert np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])
    assert len(late) == len(first) + len(more)
    assert late.seq.tolist() == list(range(100, 100 + len(first) + len(more)))
    assert_equal_to_decide(late, first + more, profile, at)
    cont = ColumnsBuilder.from_columns(early)
    assert_equal_to_decide(build(more, cont, first_seq=100 + len(first)), first + more, profile, at)
    with pytest.raises(ValueError):
        early.classification[0] = 1  # snapshots are read-only


@settings(max_examples=50, deadline=None)
@given(rows_strategy(min_size=1), st.data(), profiles(), times())
def test_take_keeps_rows_with_their_portions(rows: list[Row], data: st.DataObject, profile: TrustProfile,
                                            at: datetime) -> None:
    cols = build(rows)
    idx = data.draw(st.lists(st.integers(0, len(rows) - 1), max_size=15))
    taken = cols.take(np.array(idx, dtype=np.intp))
    assert taken.seq.tolist() == [100 + i for i in idx]
    assert taken.portions.parent.tolist() == sorted(taken.portions.parent.tolist())
    assert_equal_to_decide(taken, [rows[i] for i in idx], profile, at)
    mask = np.array([i % 2 == 0 for i in range(len(rows))])
    assert_equal_to_decide(cols.take(mask), rows[::2], profile, at)


def test_unsorted_added_times_are_embargoed_row_by_row() -> None:
    profile = TrustProfile("GBR", embargo=timedelta(hours=1))
    added = [BASE, BASE - timedelta(hours=2), BASE + timedelta(minutes=1), BASE - timedelta(hours=1)]
    rows: list[Row] = [(MarkedItem(Label()), a, False) for a in added]
    assert_equal_to_decide(build(rows), rows, profile, BASE)
    v, _ = compute(build(rows), profile, to_micros(BASE))
    assert v.tolist() == [Verdict.HOLD, Verdict.RELEASE, Verdict.HOLD, Verdict.RELEASE]


@pytest.mark.parametrize(
    "broken",
    [
        TrustProfile("GBR", excluded_topics=None),  # type: ignore[arg-type]
        TrustProfile("GBR", clearance="high"),  # type: ignore[arg-type]
        TrustProfile("GBR", embargo=3600),  # type: ignore[arg-type]
    ],
)
def test_a_broken_profile_withholds_every_row_like_decide(broken: TrustProfile) -> None:
    rows: list[Row] = [(MarkedItem(Label(topics=frozenset({"russia"}), classification=1)), BASE, False)] * 3
    v, bits = compute(build(rows), broken, to_micros(BASE))
    assert v.tolist() == [Verdict.WITHHOLD] * 3
    assert bits.tolist() == [BIT[Reason.POLICY_ERROR]] * 3
    field = next(n for n in ("excluded_topics", "clearance", "embargo") if getattr(broken, n) != getattr(
        TrustProfile("GBR"), n))
    named = (f"{Reason.UNHANDLED}:{field}",)  # both engines name the field no rule is written for
    assert decide(rows[0][0], broken, BASE, added=BASE).reasons == named
    assert reason_codes(bits, 0, build(rows), broken, to_micros(BASE)) == named


def test_approvals_of_the_wrong_length_are_a_policy_error() -> None:
    cols = build([(MarkedItem(Label()), BASE, False)] * 2)
    v, bits = compute(cols, TrustProfile("GBR"), to_micros(BASE), np.array([True]))
    assert v.tolist() == [Verdict.WITHHOLD] * 2 and bits.tolist() == [BIT[Reason.POLICY_ERROR]] * 2


def test_empty_columns() -> None:
    cols = ColumnsBuilder().build()
    v, bits = compute(cols, TrustProfile("GBR"), 0)
    assert v.shape == bits.shape == (0,)
    m, mb = compute_matrix(cols, [TrustProfile("GBR"), TrustProfile("USA")], 0)
    assert m.shape == mb.shape == (2, 0)


def test_vocab_is_stable_and_masks_ignore_unknown_names() -> None:
    v = Vocab(["a", "b"])
    assert v.add("b") == 1 and v.add("c") == 2 and v.get("zz") is None and len(v) == 3
    assert v.mask(["c", "zz"], 1).tolist() == [4]
    assert v.decode(np.array([5], dtype=np.uint64)) == frozenset({"a", "c"})
    assert Vocab(str(i) for i in range(65)).words == 2 and Vocab().words == 1


def test_out_of_range_classification_is_refused_by_the_builder() -> None:
    with pytest.raises(ValueError, match="out of range"):
        ColumnsBuilder().append(1, MarkedItem(Label(classification=300)), 0)


def _arrays(cols: LabelColumns) -> dict[str, list[object]]:
    out = {k: getattr(cols, k).tolist() for k in ("seq", "added_us", "classification", "tlp", "noforn", "orcon",
                                                   "cites_source", "has_rel_to", "has_fs", "originator")}
    out.update({k: getattr(cols, k).tolist() for k in ("rel_to", "further_sharing", "topics")})
    p = cols.portions
    out["portions"] = [p.parent.tolist(), p.classification.tolist(), p.tlp.tolist(), p.topics.tolist()]
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(policy_items(), min_size=1, max_size=6), st.lists(st.integers(0, 5), max_size=40), rows_strategy())
def test_extend_equals_appending_row_by_row(pool: list[MarkedItem], picks: list[int], before: list[Row]) -> None:
    """Versions labelled alike are copied, not re-derived: the columns are the same either way."""
    chosen = [pool[i % len(pool)] for i in picks]  # labels repeat, as in a feed
    seqs = [500 + 3 * i for i in range(len(chosen))]
    added = [to_micros(BASE) + i for i in range(len(chosen))]
    one, many = ColumnsBuilder(capacity=1), ColumnsBuilder(capacity=1)
    build(before, one)
    build(before, many)
    for s, item, a in zip(seqs, chosen, added, strict=True):
        one.append(s, item, a)
    many.extend(seqs, chosen, added)
    assert _arrays(many.build()) == _arrays(one.build())
    assert many.partner_vocab.names == one.partner_vocab.names and many.topic_vocab.names == one.topic_vocab.names


def test_extend_refuses_columns_of_different_lengths() -> None:
    with pytest.raises(ValueError):
        ColumnsBuilder().extend([1, 2], [MarkedItem(Label())], [0, 0])
