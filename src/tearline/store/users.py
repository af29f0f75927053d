"""Local operators of the web UI: name, role and an argon2 password hash (never the password).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, select, update

from tearline.store.schema import users


@dataclass(frozen=True)
class UserRow:
    name: str
    role: str
    password_hash: str
    created_us: int
    updated_us: int


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
