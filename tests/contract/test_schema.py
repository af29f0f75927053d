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
