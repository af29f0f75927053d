"""Leaf builders, sequencing, validation and canonical bytes (the fast path is always JCS)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tearline.canonical import jcs, parse_timestamp, to_micros
from tearline.errors import InvalidInput
from tearline.ledger import leaves

AT = datetime(2026, 11, 29, 10, 11, 12, 123456, tzinfo=UTC)
SHA = "ab" * 32

BUILT = {
    "release": leaves.release_leaf(
        time=AT,
        partner="GBR",
        object_id="indicator--1",
        version="2026-11-01T00:00:00.000Z",
        sha256=SHA,
        verdict="RELEASE_TEARLINE",
        reasons=["PORTION_WITHHELD", "SOURCE_PROTECTED"],
    ),
    "profile": leaves.profile_leaf(time=AT, partner="CAN", version=3, reason="scale back", approved_by="dso"),
    "approval": leaves.approval_leaf(time=AT, partner="AUS", object_id="report--1", approved_by="o", reason="r"),
    "revocation": leaves.revocation_leaf(time=AT, partner="AUS", object_id="report--1", revoked_by="o", reason="r"),
    "reveal": leaves.reveal_leaf(time=AT, source="src-1", by="officer", reason="court order"),
    "alert": leaves.alert_leaf(time=AT, partner="NZL", object_id="note--1", version="v", field="$.content"),
    "psi": leaves.psi_leaf(time=AT, partner="USA", role="client", types=["ipv4-addr"], mode="values",
                           client_size=100, server_size=52, outcome="answered", reason="", result_size=3),
}


def test_every_kind_has_a_builder_with_kind_and_stix_time() -> None:
    assert set(BUILT) == set(leaves.KINDS)
    for kind, leaf in BUILT.items():
        assert leaf["kind"] == kind
        assert leaf["time"] == "2026-11-29T10:11:12.123456Z"
        assert "seq" not in leaf


def test_reveal_and_alert_carry_no_identity_or_term() -> None:
    assert set(BUILT["reveal"]) == {"kind", "time", "source", "by", "reason"}
    assert set(BUILT["alert"]) == {"kind", "time", "partner", "object", "version", "field"}


def test_release_leaf_bytes_are_the_documented_form() -> None:
    data = leaves.encode(leaves.sequenced(BUILT["release"], 7))
    assert data == (
        b'{"kind":"release","object":"indicator--1","partner":"GBR",'
        b'"reasons":["PORTION_WITHHELD","SOURCE_PROTECTED"],"seq":7,"sha256":"'
        + SHA.encode()
        + b'","time":"2026-11-29T10:11:12.123456Z","verdict":"RELEASE_TEARLINE",'
        b'"version":"2026-11-01T00:00:00.000Z"}'
    )


def test_check_returns_the_indexed_columns() -> None:
    at_us = int(AT.timestamp()) * 1_000_000 + AT.microsecond
    assert leaves.check(leaves.sequenced(BUILT["release"], 0)) == ("release", "GBR", at_us)
    assert leaves.check(leaves.sequenced(BUILT["reveal"], 1)) == ("reveal", None, at_us)


@pytest.mark.parametrize(
    "leaf",
    [
        {"kind": "nope", "seq": 0, "time": "2026-01-01T00:00:00Z"},
        {"kind": "reveal", "seq": -1, "time": "2026-01-01T00:00:00Z"},
        {"kind": "reveal", "seq": True, "time": "2026-01-01T00:00:00Z"},
        {"kind": "reveal", "seq": 0, "time": "2026-01-01 00:00:00"},
        {"kind": "reveal", "seq": 0},
        {"kind": "alert", "seq": 0, "time": "2026-01-01T00:00:00Z", "partner": 5},
    ],
)
def test_check_refuses_bad_leaves(leaf: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        leaves.check(leaf)


def test_sequenced_refuses_another_seq() -> None:
    assert leaves.sequenced({"seq": 4, "kind": "reveal"}, 4)["seq"] == 4
    with pytest.raises(InvalidInput, match="`3`"):
        leaves.sequenced({"seq": 3}, 4)


def test_release_leaf_refuses_a_bad_digest() -> None:
    with pytest.raises(InvalidInput):
        leaves.release_leaf(
            time=AT, partner="GBR", object_id="x", version="v", sha256="AB" * 32, verdict="RELEASE", reasons=[]
        )


def test_encode_refuses_what_jcs_cannot_encode() -> None:
    with pytest.raises(InvalidInput):
        leaves.encode({"n": 2**60})
    with pytest.raises(InvalidInput):
        leaves.encode({"x": object()})
    with pytest.raises(InvalidInput):
        leaves.encode({"x": float("nan")})


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _json, max_size=6))
def test_encode_is_rfc8785(value: dict[str, Any]) -> None:
    assert leaves.encode(value) == jcs(value)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(alphabet=st.characters(min_codepoint=0xD7F0, exclude_categories=["Cs"]), max_size=3),
        st.text(),
        max_size=6,
    )
)
def test_encode_sorts_non_ascii_keys_as_rfc8785(value: dict[str, str]) -> None:
    assert leaves.encode(value) == jcs(value)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC)))  # see canonical: %Y is not padded
def test_check_reads_every_builder_time_as_the_canonical_parser_does(at: datetime) -> None:
    leaf = leaves.sequenced(leaves.reveal_leaf(time=at, source="s", by="b", reason="r"), 0)
    assert leaves.check(leaf)[2] == to_micros(parse_timestamp(leaf["time"]))


@pytest.mark.parametrize("text", ["2026-11-29T10:11:12Z", "2026-11-29T10:11:12.1Z", "2026-11-29T10:11:12.123456789Z"])
def test_check_reads_other_stix_precisions(text: str) -> None:
    leaf = {"kind": "reveal", "seq": 0, "time": text}
    assert leaves.check(leaf)[2] == to_micros(parse_timestamp(text))


@pytest.mark.parametrize(
    "text", ["2026-11-29T10:11:12.123456+00:00", "2026-11-29 10:11:12.123456Z", "2026-11-29T10:11:12,123456Z"]
)
def test_check_refuses_near_stix_times(text: str) -> None:
    with pytest.raises(InvalidInput):
        leaves.check({"kind": "reveal", "seq": 0, "time": text})


def test_built_leaves_are_checked_once_and_stay_canonical() -> None:
    import pytest as _pytest

    from tearline.canonical import jcs
    from tearline.errors import InvalidInput
    from tearline.ledger import leaves as lv

    at = __import__("datetime").datetime(2026, 1, 1, tzinfo=__import__("datetime").UTC)
    leaf = lv.sequenced(lv.profile_leaf(time=at, partner="USA", version=3, reason="r", approved_by="p"), 7)
    assert lv.encode(leaf) == jcs(dict(leaf))
    with _pytest.raises(InvalidInput):
        leaf["version"] = 1.5  # a built leaf takes nothing but its seq
    with _pytest.raises(InvalidInput):
        lv.release_leaf(time=at, partner="USA", object_id="x--1", version=1.0, sha256="0" * 64,  # type: ignore[arg-type]
                        verdict="RELEASE", reasons=[])
