"""Fixed test data shared by the fixtures and the tests: the test clock's time and the ATT&CK bundles."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ATTACK = (REPO / ".." / "shared" / "data" / "attack").resolve()


def attack_files() -> list[Path]:
    return sorted(ATTACK.glob("*.json")) if ATTACK.is_dir() else []


T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
