"""Shared fixtures: databases (SQLite always, PostgreSQL when configured), nodes, data paths."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.data import ATTACK, T0, attack_files

PG_ENV = "TEARLINE_TEST_POSTGRES_URL"


@pytest.fixture
def attack() -> list[Path]:
    files = attack_files()
    if not files:
        pytest.skip(f"ATT&CK bundles not found at {ATTACK}")
    return files


def _pg_base() -> str | None:
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        return None
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = _pg_base()
    if base is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every storage test runs on SQLite and on PostgreSQL (skipped with a reason when unset)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'node' / 'tearline.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def settings(tmp_path: Path, db_url: str):  # type: ignore[no-untyped-def]
    from tearline.crypto.sealing import write_kek_file
    from tearline.settings import Settings

    db = "" if db_url.startswith("sqlite") else db_url
    kek = tmp_path / "vault.kek"  # beside the data folder, never inside it
    if not kek.exists():
        write_kek_file(kek)
    return Settings(data=tmp_path / "node", db=db, kek_file=str(kek))


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    from tearline.clock import FixedClock

    return FixedClock(T0)


@pytest.fixture
def node(settings, clock):  # type: ignore[no-untyped-def]
    from tearline.bootstrap import create_node

    n, _ = create_node(settings, code="GBR", name="test node", clock=clock)
    yield n
    n.close()
