"""The fingerprint stage's collaborator: the node's keyed code and the choices protected terms freeze.

A partner whose profile has ``fingerprint`` on gets each object with its own codeword embedded
(:mod:`tearline.fingerprint.embed`); the choices inside any protected term are never made, so the
gate, which scans the fingerprinted bytes, finds every term it would have found without them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tearline.fingerprint.code import Code
from tearline.fingerprint.embed import fingerprint
from tearline.fingerprint.prose import frozen_classes
from tearline.sanitize.normalize import normalise


class Fingerprints:
    def __init__(self, code: Code) -> None:
        self.code = code
        self._frozen: tuple[object, frozenset[str]] = (None, frozenset())
        self._lock = threading.Lock()

    def frozen(self, version: object, terms: Callable[[], tuple[str, ...]]) -> frozenset[str]:
        """The classes no choice is made in while the protected terms are at ``version``."""
        seen, classes = self._frozen
        if seen == version and version is not None:
            return classes
        classes = frozen_classes(terms(), normalise)
        with self._lock:
            self._frozen = (version, classes)
        return classes

    def apply(self, partner: str, obj: dict[str, Any], frozen: frozenset[str]) -> dict[str, Any]:
        return fingerprint(obj, partner, self.code, frozen)
