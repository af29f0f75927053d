"""Local operators of the web UI: name, role and an argon2 password hash (never the password).

The ``users`` table is attached to the shared metadata; until its Alembic migration exists,
:func:`ensure_table` creates it where it is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Connection, String, Table, Text, delete, select, update

from tearline.store.schema import metadata

users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),  # viewer | officer | admin
    Column("password_hash", Text, nullable=False),  # argon2id, PHC string form
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)


@dataclass(frozen=True)
class UserRow:
    name: str
    role: str
    password_hash: str
    created_us: int
    updated_us: int


def ensure_table(conn: Connection) -> None:
    """Create the table where it is missing (until its migration exists)."""
    users.create(conn, checkfirst=True)


def add(conn: Connection, row: UserRow) -> None:
    conn.execute(users.insert().values(**row.__dict__))


def get(conn: Connection, name: str) -> UserRow | None:
    r = conn.execute(select(users).where(users.c.name == name)).first()
    return None if r is None else UserRow(**r._mapping)


def listing(conn: Connection) -> list[UserRow]:
    return [UserRow(**r._mapping) for r in conn.execute(select(users).order_by(users.c.name))]


def set_role(conn: Connection, name: str, role: str, at_us: int) -> bool:
    done = conn.execute(update(users).where(users.c.name == name).values(role=role, updated_us=at_us))
    return bool(done.rowcount)


def set_hash(conn: Connection, name: str, password_hash: str, at_us: int) -> bool:
    done = conn.execute(
        update(users).where(users.c.name == name).values(password_hash=password_hash, updated_us=at_us)
    )
    return bool(done.rowcount)


def remove(conn: Connection, name: str) -> bool:
    return bool(conn.execute(delete(users).where(users.c.name == name)).rowcount)


def count_admins(conn: Connection) -> int:
    return len(list(conn.execute(select(users.c.name).where(users.c.role == "admin"))))
