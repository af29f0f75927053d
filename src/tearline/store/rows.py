"""How the store's modules read a result row by column name, typed without naming SQLAlchemy's
row generics (their parameters differ between SQLAlchemy 2.0 and 2.1)."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import RowMapping


class MappedRow(Protocol):
    """A result row: its columns by name (``Row._mapping``)."""

    @property
    def _mapping(self) -> RowMapping: ...
