"""Every command and every setting is documented in the README."""

from __future__ import annotations

from pathlib import Path

import typer.main

from tearline.cli.app import app
from tearline.settings import setting_docs

README = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")


def _commands(group: object, prefix: str = "") -> list[str]:
    out = []
    for name, cmd in sorted(group.commands.items()):  # type: ignore[attr-defined]
        full = f"{prefix}{name}"
        if hasattr(cmd, "commands"):
            out.extend(_commands(cmd, full + " "))
        else:
            out.append(full)
    return out


def test_every_command_is_in_the_cli_reference() -> None:
    group = typer.main.get_command(app)
    assert hasattr(group, "commands")
    commands = _commands(group)
    assert len(commands) > 10
    missing = []
    for c in commands:
        parts = c.split()
        # "partner history" may be listed as "tearline partner history CODE" or "/ `history`" in a row
        if f"tearline {c}" not in README and not (len(parts) == 2 and f"`{parts[1]}" in README
                                                   and f"tearline {parts[0]}" in README):
            missing.append(c)
    assert not missing, f"undocumented commands: {missing}"


def test_every_setting_is_documented() -> None:
    for name, env, _default, help_text in setting_docs():
        assert help_text
        assert f"`{name}`" in README, name
        if env:
            assert f"`{env}`" in README, env


def test_readme_has_the_two_setup_commands_and_the_demo() -> None:
    assert "pip install -q -e . && .venv/bin/tearline demo" in README
    assert "pip install -q -e '.[test]' && .venv/bin/python -m pytest" in README
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text("utf-8")
    assert "pip install -q -e '.[test]' && .venv/bin/python -m pytest -q" in ci
