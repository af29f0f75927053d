"""Local operators of the web UI and their roles; passwords are kept only as argon2id hashes.

Roles are ordered: a ``viewer`` sees every page, an ``officer`` also applies scale-backs and
restores, an ``admin`` also manages operators. A partner's TAXII token never opens the UI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tearline.canonical import to_micros
from tearline.clock import Clock
from tearline.errors import Conflict, InvalidInput, NotFound
from tearline.store import users as store
from tearline.store.engine import Database

MIN_PASSWORD = 12
_NAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")


class Role(IntEnum):
    VIEWER = 1
    OFFICER = 2
    ADMIN = 3

    @property
    def text(self) -> str:
        return self.name.lower()

    @classmethod
    def from_text(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise InvalidInput(f"unknown role `{text}` (use viewer, officer or admin)") from None


@dataclass(frozen=True)
class User:
    name: str
    role: Role

    def can(self, role: Role) -> bool:
        return self.role >= role


def check_name(name: str) -> str:
    n = name.strip().lower()
    if not _NAME.match(n):
        raise InvalidInput(f"user name `{name}` must be 2-64 of a-z, 0-9, '.', '_' or '-', starting with a letter")
    return n


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")


class Users:
    def __init__(self, db: Database, clock: Clock, *, hasher: PasswordHasher | None = None) -> None:
        self.db = db
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    def add(self, name: str, role: Role, password: str) -> User:
        name = check_name(name)
        check_password(password)
        now = to_micros(self.clock.now())
        digest = self.hasher.hash(password)
        with self.db.write() as conn:
            if store.get(conn, name) is not None:
                raise Conflict(f"user `{name}` already exists")
            store.add(conn, store.UserRow(name, role.text, digest, now, now))
        return User(name, role)

    def get(self, name: str) -> User | None:
        with self.db.read() as conn:
            row = store.get(conn, name)
        return None if row is None else User(row.name, Role.from_text(row.role))

    def listing(self) -> list[User]:
        with self.db.read() as conn:
            return [User(r.name, Role.from_text(r.role)) for r in store.listing(conn)]

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password is theirs; None otherwise (an unknown name costs the same time)."""
        with self.db.read() as conn:
            row = store.get(conn, name.strip().lower())
        if row is None:
            if self._dummy is None:
                self._dummy = self.hasher.hash("not a password of anyone")
            self._verify(self._dummy, password)
            return None
        if not self._verify(row.password_hash, password):
            return None
        if self.hasher.check_needs_rehash(row.password_hash):
            with self.db.write() as conn:
                store.set_hash(conn, row.name, self.hasher.hash(password), to_micros(self.clock.now()))
        return User(row.name, Role.from_text(row.role))

    def _verify(self, digest: str, password: str) -> bool:
        try:
            return bool(self.hasher.verify(digest, password))
        except (VerificationError, InvalidHashError):
            return False

    def set_role(self, name: str, role: Role) -> User:
        name = check_name(name)
        with self.db.write() as conn:
            row = store.get(conn, name)
            if row is None:
                raise NotFound(f"no user `{name}`")
            if row.role == "admin" and role is not Role.ADMIN and store.count_admins(conn) == 1:
                raise Conflict(f"`{name}` is the last admin")
            store.set_role(conn, name, role.text, to_micros(self.clock.now()))
        return User(name, role)

    def set_password(self, name: str, password: str) -> None:
        name = check_name(name)
        check_password(password)
        digest = self.hasher.hash(password)
        with self.db.write() as conn:
            if not store.set_hash(conn, name, digest, to_micros(self.clock.now())):
                raise NotFound(f"no user `{name}`")

    def remove(self, name: str) -> None:
        name = check_name(name)
        with self.db.write() as conn:
            row = store.get(conn, name)
            if row is None:
                raise NotFound(f"no user `{name}`")
            if row.role == "admin" and store.count_admins(conn) == 1:
                raise Conflict(f"`{name}` is the last admin")
            store.remove(conn, name)
