"""Collections get their ids from the injected id factory: the node's `shared` collection, a partner's
inbox and a collection added later (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from tearline.clock import Clock
from tearline.errors import Conflict
from tearline.ids import SeededIds
from tearline.services.node import add_collection, init_node
from tearline.services.trust import ProfileChange, Trust
from tearline.settings import Settings
from tearline.store import nodes
from tearline.store.engine import Database


@pytest.fixture
def db(settings: Settings) -> Database:
    settings.data.mkdir(parents=True, exist_ok=True)
    return Database(settings.db_url)


def test_every_collection_id_comes_from_the_factory(db: Database, settings: Settings, clock: Clock) -> None:
    expect = SeededIds("collections")
    ids = SeededIds("collections")
    try:
        _, created = init_node(db, settings.data / "keys", clock, code="GBR", name=None, ids=ids)
        assert created
        Trust(db, clock, ids=ids).add_partner("USA", "United States", ProfileChange())
        row = add_collection(db, clock, "ransomware", "Ransomware", "", ids=ids)
        with db.read() as conn:
            got = [(c.alias, c.id) for c in nodes.list_collections(conn)]
        assert sorted(got) == sorted(
            [("shared", expect.new_uuid()), ("inbox-usa", expect.new_uuid()), ("ransomware", expect.new_uuid())]
        )
        assert row.id == dict(got)["ransomware"] and row.kind == "custom" and not row.partner_write
    finally:
        db.dispose()


def test_an_alias_in_use_is_a_conflict_and_adds_nothing(db: Database, settings: Settings, clock: Clock) -> None:
    try:
        init_node(db, settings.data / "keys", clock, code="GBR", name=None)
        with pytest.raises(Conflict, match="collection `shared` already exists"):
            add_collection(db, clock, "shared", "Again", "")
        with db.read() as conn:
            assert [c.alias for c in nodes.list_collections(conn)] == ["shared"]
    finally:
        db.dispose()
