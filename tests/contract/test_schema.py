"""Schema versions: migrations run on init and at start; a newer schema is refused clearly."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tearline.bootstrap import open_node
from tearline.errors import ConfigError, SchemaTooNew
from tearline.store.engine import Database


def test_newer_schema_is_refused(node, settings):  # type: ignore[no-untyped-def]
    with node.db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    node.close()
    with pytest.raises(SchemaTooNew) as err:
        open_node(settings)
    assert "ffff_from_the_future" in err.value.message and "upgrade tearline" in err.value.message


def test_missing_schema_asks_for_init(settings):  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as err:
        open_node(settings)
    assert "tearline init" in err.value.message


def test_migrate_is_idempotent_and_reports_head(node):  # type: ignore[no-untyped-def]
    db = Database(node.db.url)
    try:
        db.migrate()
        current, head = db.schema_state()
        assert current == head
    finally:
        db.dispose()


def test_the_migrations_build_exactly_the_declared_schema(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from tearline.store.schema import metadata

    db = Database(db_url)
    try:
        db.migrate()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_server_default": True}), metadata)
        assert diff == []
    finally:
        db.dispose()


def test_rejections_recorded_before_retries_existed_stay_refused(db_url: str) -> None:
    from alembic import command

    from tearline.store import sync as sync_store
    from tearline.store.engine import _alembic_config

    db = Database(db_url)
    try:
        with db.engine.connect() as raw, raw.begin():
            command.upgrade(_alembic_config(raw), "0001")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO sync_rejections (peer, direction, stix_id, version, reason, at_us) "
                "VALUES ('USA', 'pull', 'indicator--x', '2026-01-01T00:00:00.000Z', 'unknown marking definition', 1)"
            ))
        db.migrate()
        with db.read() as conn:
            [old] = sync_store.rejections(conn)
            assert sync_store.pending_rejections(conn, "USA", 10) == []
        assert (old.state, old.attempts, old.outcome, old.collection) == ("refused", 0, None, None)
    finally:
        db.dispose()


def test_a_new_sqlite_database_has_16k_pages_and_an_existing_one_keeps_its_own(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    from tearline.bootstrap import create_node
    from tearline.settings import Settings
    from tearline.store.engine import PAGE_SIZE
    from tearline.store.objects import counts

    def page_size(path: object) -> int:
        with sqlite3.connect(str(path)) as c:
            return int(c.execute("PRAGMA page_size").fetchone()[0])

    fresh, _ = create_node(Settings(data=tmp_path / "fresh", db=""), code="GBR")
    fresh.close()
    assert page_size(tmp_path / "fresh" / "tearline.db") == PAGE_SIZE == 16384
    old = tmp_path / "old.db"  # a database made before, with SQLite's default pages, in WAL mode
    with sqlite3.connect(str(old)) as c:
        c.execute("PRAGMA page_size=4096")
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE t (x)")
    node, _ = create_node(Settings(data=tmp_path / "old", db=f"sqlite:///{old}"), code="GBR")
    try:
        with node.db.read() as conn:  # migrated and usable as it is
            assert counts(conn) == (0, 0)
    finally:
        node.close()
    assert page_size(old) == 4096
