"""Architecture rules as tests: import contracts (import-linter) and the one door out."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "tearline"


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    run = subprocess.run([exe, "--no-cache"], capture_output=True, text=True, cwd=SRC.parents[1], timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "BROKEN" not in run.stdout and "KEPT" in run.stdout


def _calls(name: str) -> dict[str, int]:
    """Modules that reference ``name`` (a call, an import or an attribute)."""
    found: dict[str, int] = {}
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            hit = (
                (isinstance(node, ast.Name) and node.id == name)
                or (isinstance(node, ast.Attribute) and node.attr == name)
                or (isinstance(node, ast.alias) and node.name == name)
            )
            if hit:
                rel = str(path.relative_to(SRC))
                found[rel] = found.get(rel, 0) + 1
    return found


def test_only_the_release_pipeline_renders_objects_for_partners() -> None:
    """Marking an object for a partner (item_to_stix) and making its tearline version happen in one
    place; every other module asks the pipeline."""
    renderers = set(_calls("item_to_stix")) - {"stix/markings.py"}
    assert renderers == {"services/release.py"}, renderers
    tearliners = set(_calls("make_tearline")) - {"sanitize/tearline.py"}
    assert tearliners <= {"services/release.py"}, tearliners


def test_release_stages_are_in_the_documented_order() -> None:
    src = (SRC / "services" / "release.py").read_text("utf-8")
    order = [src.index(f'"{s}": self._{s}') for s in ("decide", "tearline", "serialise", "gate", "record")]
    assert order == sorted(order)


def _tool(name: str) -> str:
    return shutil.which(name) or str(Path(sys.executable).parent / name)


def test_all_of_src_passes_mypy_strict() -> None:
    run = subprocess.run([_tool("mypy")], capture_output=True, text=True, cwd=SRC.parents[1], timeout=600)
    assert run.returncode == 0, run.stdout[-3000:]


def test_ruff_is_clean() -> None:
    run = subprocess.run([_tool("ruff"), "check", "src", "tests", "bench"], capture_output=True, text=True,
                         cwd=SRC.parents[1], timeout=300)
    assert run.returncode == 0, run.stdout[-3000:]
