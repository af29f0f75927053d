"""Identifier factories, injectable like the clock."""

from __future__ import annotations

import uuid
from typing import Protocol


class IdFactory(Protocol):
    def new(self, prefix: str) -> str:
        """A ``prefix--uuid`` identifier (STIX objects, bundles)."""
        ...

    def new_uuid(self) -> str:
        """A bare UUID (TAXII collections and status resources)."""
        ...


class RandomIds:
    """``prefix--uuid4`` identifiers, the STIX form."""

    def new(self, prefix: str) -> str:
        return f"{prefix}--{uuid.uuid4()}"

    def new_uuid(self) -> str:
        return str(uuid.uuid4())


class SeededIds:
    """Deterministic ``prefix--uuid`` identifiers from a seed (demo data, tests)."""

    def __init__(self, seed: str) -> None:
        self._ns = uuid.uuid5(uuid.NAMESPACE_URL, f"tearline:{seed}")
        self._n = 0
        self._bare = 0  # counted apart, so bare UUIDs drawn in between do not shift the prefixed ids

    def new(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}--{uuid.uuid5(self._ns, f'{prefix}:{self._n}')}"

    def new_uuid(self) -> str:
        self._bare += 1
        return str(uuid.uuid5(self._ns, f"uuid:{self._bare}"))
