"""The tests' own layout: no module under ``tests/`` imports a test module (``test_*.py`` or ``conftest.py``).

What tests share (strategies, fixed data, servers, helpers) lives in support modules such as
``tests/strategies.py``, ``tests/data.py`` and ``tests/<area>/support.py``; pytest collects test
modules and conftest files itself, and importing one from another runs its module code twice under
two names.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _is_test_module(dotted: str) -> bool:
    parts = dotted.split(".")
    return parts[0] == "tests" and (parts[-1] == "conftest" or parts[-1].startswith("test_"))


def _module_name(path: Path) -> str:
    rel = path.relative_to(TESTS.parent).with_suffix("")
    return ".".join(rel.parts)


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """Every module a source may import, with its line: ``import a.b``, ``from a import b`` (``a`` and
    ``a.b``, since ``b`` may be a module) and relative imports resolved against ``module``'s package,
    at any depth (inside functions too)."""
    found: list[tuple[int, str]] = []
    package = module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                prefix = ".".join([*base, *([node.module] if node.module else [])])
            else:
                prefix = node.module or ""
            found.append((node.lineno, prefix))
            found.extend((node.lineno, f"{prefix}.{alias.name}") for alias in node.names if alias.name != "*")
    return found


def violations(source: str, module: str) -> list[str]:
    return [
        f"{module}:{line} imports {target}"
        for line, target in imported_modules(source, module)
        if _is_test_module(target) and target != module
    ]


def test_no_module_under_tests_imports_a_test_module() -> None:
    bad: list[str] = []
    for path in sorted(TESTS.rglob("*.py")):
        bad.extend(violations(path.read_text("utf-8"), _module_name(path)))
    assert bad == []


def test_the_check_sees_every_form_of_import() -> None:
    module = "tests.web.test_http"
    assert violations("from tests.web.conftest import Live", module) == [
        "tests.web.test_http:1 imports tests.web.conftest"
    ]
    assert violations("import tests.unit.test_scanner", module) == [
        "tests.web.test_http:1 imports tests.unit.test_scanner"
    ]
    assert violations("from tests.unit import test_scanner", module) == [
        "tests.web.test_http:1 imports tests.unit.test_scanner"
    ]
    assert violations("from .conftest import Live", module) == ["tests.web.test_http:1 imports tests.web.conftest"]
    assert violations("from ..conftest import T0", module) == ["tests.web.test_http:1 imports tests.conftest"]
    assert violations("def f():\n    from tests.conftest import T0\n", module) == [
        "tests.web.test_http:2 imports tests.conftest"
    ]
    for fine in (
        "from tests.strategies import profiles",
        "from tests.web.support import Live",
        "from tests.data import T0",
        "import pytest",
        "from tearline.policy.decide import decide",
    ):
        assert violations(fine, module) == [], fine
