"""Opening the database: engine, SQLite pragmas, one-writer transactions, schema checks.

SQLite runs in WAL mode; every write transaction starts with ``BEGIN IMMEDIATE`` so writers queue on
the database lock instead of failing half-way (ledger appends need a total order); checkpoints run
in a thread of their own (:mod:`tearline.store.wal`). PostgreSQL is used
as is; the ledger serialises its appends with an advisory lock. Driver errors are translated here
into :class:`tearline.errors.StorageError`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc

from tearline.errors import ConfigError, SchemaTooNew, StorageError, TearlineError
from tearline.store.wal import Checkpointer

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"


def _alembic_config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


PAGE_SIZE = 16384


def _sqlite_setup(engine: Engine, checkpointer: Checkpointer | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        # 16 KiB pages for a new database (a no-op on one that exists): a stored version is a
        # kilobyte or more of JSON, and bigger pages write an ingest's bodies in a quarter of the
        # log frames (ATT&CK: inserts 10-15% faster than with 4 KiB pages)
        cur.execute(f"PRAGMA page_size={PAGE_SIZE}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA temp_store=MEMORY")  # the ingest's per-unit table (tearline.store.objects)
        for pragma in checkpointer.connection_pragmas() if checkpointer is not None else ():
            cur.execute(pragma)
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("tearline_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


class Database:
    """One database: an engine plus the transaction helpers every repository uses."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.checkpointer: Checkpointer | None = None  # SQLite files: WAL checkpoints off the write path
        try:
            if url.startswith("sqlite"):
                path = url.split("///", 1)[-1]
                if path and path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                    self.checkpointer = Checkpointer(path)
                self.engine = create_engine(url, echo=echo)
                _sqlite_setup(self.engine, self.checkpointer)
            else:
                self.engine = create_engine(url, echo=echo, pool_pre_ping=True)
        except (sa_exc.ArgumentError, ImportError) as exc:
            raise ConfigError(f"cannot use database url: {exc}") from None
        self.dialect = self.engine.dialect.name
        if self.dialect == "postgresql" and self.engine.dialect.driver != "psycopg":
            # ingest loads versions with psycopg's COPY (tearline.store.objects)
            raise ConfigError("PostgreSQL is used through psycopg: give a `postgresql+psycopg://` URL")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite); commits on success."""
        with translate_errors(), self.engine.connect() as raw:
            conn = raw.execution_options(tearline_write=True)
            with conn.begin():
                yield conn
            if self.checkpointer is not None:
                self.checkpointer.committed(raw.connection.dbapi_connection)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot)."""
        with translate_errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.engine.dispose()

    # -- schema ---------------------------------------------------------------------------
    def schema_state(self) -> tuple[str | None, str]:
        """(current revision in the database, newest revision this code knows)."""
        script = ScriptDirectory.from_config(_alembic_config())
        head = script.get_current_head()
        assert head is not None
        with self.read() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        return current, head

    def migrate(self) -> None:
        """Bring the schema to the newest revision; refuse a database written by a newer tearline."""
        script = ScriptDirectory.from_config(_alembic_config())
        current, head = self.schema_state()
        if current is not None and current != head:
            known = {rev.revision for rev in script.walk_revisions()}
            if current not in known:
                raise SchemaTooNew(
                    f"the database schema `{current}` is newer than this tearline knows (newest `{head}`); "
                    "upgrade tearline to open it"
                )
        if current != head:
            with translate_errors(), self.engine.connect() as raw:
                conn = raw.execution_options(tearline_write=True)
                with conn.begin():
                    command.upgrade(_alembic_config(conn), "head")

    def check_schema(self) -> None:
        """Refuse to run on a database that is missing, older (unmigrated) or newer than the code."""
        current, head = self.schema_state()
        if current == head:
            return
        if current is None:
            raise ConfigError("the database has no tearline schema: run `tearline init` first")
        self.migrate()


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver errors into StorageError with a message safe to show."""
    try:
        yield
    except TearlineError:
        raise
    except sa_exc.IntegrityError as exc:
        log.debug("integrity error", exc_info=True)
        raise StorageError(f"the database refused a write: {_short(exc)}") from exc
    except sa_exc.OperationalError as exc:
        log.debug("operational error", exc_info=True)
        raise StorageError(f"the database is unavailable or busy: {_short(exc)}") from exc
    except sa_exc.DBAPIError as exc:
        log.debug("database error", exc_info=True)
        raise StorageError(f"the database failed: {_short(exc)}") from exc


def _short(exc: sa_exc.DBAPIError) -> str:
    text = str(exc.orig) if exc.orig is not None else type(exc).__name__
    return text.splitlines()[0][:200] if text else type(exc).__name__
