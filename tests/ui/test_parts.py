"""The pure parts of the UI (field diff, SVG charts) and the operator service."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tearline.clock import FixedClock
from tearline.errors import Conflict, InvalidInput
from tearline.services.users import Role, Users
from tearline.web.ui import charts
from tearline.web.ui.diff import field_diff

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=6))
json_values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(min_size=1, max_size=4), kids, max_size=4),
    max_leaves=12,
)
objects = st.dictionaries(st.text(min_size=1, max_size=5), json_values, max_size=5)  # STIX keys are never empty


@given(objects, objects)
def test_diff_is_empty_exactly_when_equal(a: dict, b: dict) -> None:  # type: ignore[type-arg]
    assert (field_diff(a, b) == []) == (a == b)
    assert field_diff(a, a) == []


@given(objects, objects)
def test_diff_names_each_top_level_key_that_differs(a: dict, b: dict) -> None:  # type: ignore[type-arg]
    paths = {c.path for c in field_diff(a, b)}
    for k in set(a) | set(b):
        if a.get(k, object()) != b.get(k, object()):
            assert any(p == k or p.startswith((f"{k}.", f"{k}[")) for p in paths), (k, paths)


def test_changed_text_shows_where_it_differs() -> None:
    long = "x" * 300
    (c,) = field_diff({"d": long + " MERLIN said " + long}, {"d": long + " a source graded B2 said " + long})
    assert "MERLIN" in (c.full or "") and "graded B2" in (c.released or "")


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=40))
def test_charts_are_well_formed_svg(values: list[int]) -> None:
    labels = [f"<d{i}>&" for i in range(len(values))]
    for svg in (
        charts.bars(labels, [("a & b", values), ("c", values[::-1])], title="t <x>"),
        charts.hbars(list(zip(labels, values, strict=True)), title="t"),
        charts.balance([(lab, v, v // 2) for lab, v in zip(labels, values, strict=True)], title="t"),
    ):
        root = ET.fromstring(str(svg))
        assert root.get("role") == "img"
        heights = [float(r.get("height", 0)) for r in root.iter("{http://www.w3.org/2000/svg}rect")] or [
            float(r.get("height", 0)) for r in root.iter("rect")
        ]
        assert all(h >= 0 for h in heights)


def test_users_hash_roles_and_last_admin(tmp_path: Path) -> None:
    from tearline.store.engine import Database

    db = Database(f"sqlite:///{tmp_path / 'u.db'}")
    db.migrate()
    users = Users(db, FixedClock(datetime(2026, 11, 29, tzinfo=UTC)))
    users.add("Ada", Role.ADMIN, "a long password")
    with pytest.raises(Conflict):
        users.add("ada", Role.VIEWER, "another password")
    with pytest.raises(InvalidInput):
        users.add("bob", Role.VIEWER, "short")
    with pytest.raises(InvalidInput):
        Role.from_text("root")
    assert users.authenticate("ADA", "a long password") == users.get("ada")
    assert users.authenticate("ada", "a long passworD") is None
    with db.read() as conn:
        from tearline.store import users as store

        row = store.get(conn, "ada")
    assert row is not None and row.password_hash.startswith("$argon2id$") and "a long password" not in row.password_hash
    with pytest.raises(Conflict):
        users.set_role("ada", Role.VIEWER)
    with pytest.raises(Conflict):
        users.remove("ada")
    users.add("bob", Role.VIEWER, "bob's password!")
    assert users.set_role("bob", Role.ADMIN).role is Role.ADMIN
    users.remove("ada")
    assert [u.name for u in users.listing()] == ["bob"]
    db.dispose()
