"""Usage errors: one line on standard error naming the problem and where the help is, exit 3, never a
traceback; a group given nothing prints its help and exits 0. Every command of the real command tree
is tried; none of them creates a node folder when it fails on usage."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
import typer.main
from tests.helpers import Run, cli
from typer._click.core import Command, Parameter

from tearline.cli.app import app
from tearline.errors import EXIT_INVALID


def _walk(command: Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Command]]:
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found.extend(_walk(sub, (*path, name)))
    return found


ROOT = typer.main.get_command(app)
ALL = _walk(ROOT)
GROUPS = [(p, c) for p, c in ALL if hasattr(c, "commands")]
LEAVES = [(p, c) for p, c in ALL if not hasattr(c, "commands")]
NEEDS_ARGS = [(p, c) for p, c in LEAVES if any(q.required for q in c.params)]


def _ids(commands: list[tuple[tuple[str, ...], Command]]) -> list[str]:
    return [" ".join(path) or "tearline" for path, _ in commands]


def _spelling(param: Parameter) -> str:
    return param.opts[0] if param.param_type_name == "option" else (param.name or "").upper()


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where `--data` points: it must still not exist after a usage error (nor the default folder)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TEARLINE_DATA", raising=False)
    monkeypatch.delenv("TEARLINE_DB_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    return tmp_path / "node"


def _run(capsys: pytest.CaptureFixture[str], node: Path, *argv: str) -> Run:
    run = cli(capsys, *argv)
    assert "Traceback" not in run.out + run.err, run
    assert not node.exists() and not (node.parent / "tearline-data").exists(), argv
    return run


def _usage_line(run: Run, command: tuple[str, ...]) -> str:
    """The one line of a usage error (exit 3, nothing on standard output), pointing at the help."""
    assert run.code == EXIT_INVALID, run
    assert run.out == "", run
    lines = [ln for ln in run.err.splitlines() if ln.strip()]
    assert len(lines) == 1, run.err
    line = lines[0]
    assert line.startswith("error: "), line
    assert line.endswith(f"; see `{' '.join(('tearline', *command))} --help`"), line
    return line


def test_the_walk_sees_the_whole_tree() -> None:
    paths = {p for p, _ in ALL}
    assert {(), ("partner",), ("partner", "scale-back"), ("user", "set-role"), ("vault", "show")} <= paths
    assert len(LEAVES) > 40 and len(GROUPS) > 5 and len(NEEDS_ARGS) > 20


@pytest.mark.parametrize(("path", "command"), GROUPS, ids=_ids(GROUPS))
def test_a_group_given_nothing_prints_its_help(
    path: tuple[str, ...], command: Command, node: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(capsys, node, *path)
    assert run.code == 0, run
    assert "Usage:" in run.out
    assert all(name in run.out for name in getattr(command, "commands", {})), run.out


@pytest.mark.parametrize(("path", "command"), NEEDS_ARGS, ids=_ids(NEEDS_ARGS))
def test_a_command_given_nothing_names_what_is_missing(
    path: tuple[str, ...], command: Command, node: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(capsys, node, "--data", str(node), *path)
    line = _usage_line(run, path)
    first = next(q for q in command.params if q.required)
    assert line.startswith(f"error: missing {first.param_type_name} {_spelling(first)}"), line


@pytest.mark.parametrize(("path", "command"), ALL, ids=_ids(ALL))
def test_a_bogus_option_is_named(
    path: tuple[str, ...], command: Command, node: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(capsys, node, "--data", str(node), *path, "--no-such-option")
    line = _usage_line(run, path)
    assert line.startswith("error: no such option --no-such-option"), line


@pytest.mark.parametrize(("path", "command"), ALL, ids=_ids(ALL))
def test_help(path: tuple[str, ...], command: Command, node: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(capsys, node, "--data", str(node), *path, "--help")
    assert run.code == 0 and run.err == "", run
    assert "Usage:" in run.out


def test_version(node: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(capsys, node, "--version")
    assert (run.code, run.out, run.err) == (0, f"tearline {metadata.version('tearline')}\n", "")


def test_bare_tearline_prints_the_help(node: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(capsys, node)
    assert run.code == 0 and run.err == "", run
    assert "Usage: tearline" in run.out and "partner" in run.out and "--version" in run.out


def test_bare_group_prints_its_help(node: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(capsys, node, "partner")
    assert run.code == 0 and run.err == "", run
    assert "Usage: tearline partner" in run.out and "scale-back" in run.out


def test_scale_back_without_a_reason(node: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(capsys, node, "--data", str(node), "partner", "scale-back", "USA", "--exclude-topic", "russia")
    assert _usage_line(run, ("partner", "scale-back")) == (
        "error: missing option --reason (the reason recorded with this change); "
        "see `tearline partner scale-back --help`"
    )


def test_set_role_with_the_role_as_an_argument(node: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(capsys, node, "--data", str(node), "user", "set-role", "dave", "admin")
    line = _usage_line(run, ("user", "set-role"))
    assert "missing option --role" in line and "viewer, officer or admin" in line, line


def test_a_bad_role_names_the_valid_ones(node: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # checked before the node is opened, so no node folder appears
    for argv in (("user", "add", "dave", "--role", "boss"), ("user", "set-role", "dave", "--role", "boss")):
        run = _run(capsys, node, "--data", str(node), *argv)
        assert run.code == EXIT_INVALID, run
        assert run.err.strip() == "error: unknown role `boss` (use viewer, officer or admin)", run


def test_the_root_without_a_command_lists_them(node: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _usage_line(_run(capsys, node, "--data", str(node)), ())
    assert line.startswith("error: missing command (commands: approvals, approve, audit,"), line


def test_an_unknown_command_lists_the_group_s(node: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _usage_line(_run(capsys, node, "--data", str(node), "partner", "frob"), ("partner",))
    assert line.startswith("error: no such command `frob` (commands: add, history,"), line


def test_a_misspelt_option_gets_a_suggestion(node: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _usage_line(_run(capsys, node, "--data", str(node), "partner", "add", "USA", "--nme", "x"),
                       ("partner", "add"))
    assert line.startswith("error: no such option --nme (did you mean --name"), line


def test_an_option_without_its_value_names_the_command(node: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # click's parser raises this one without a context: the command is read back from the arguments
    run = _run(capsys, node, "--data", str(node), "partner", "scale-back", "USA", "--reason")
    line = _usage_line(run, ("partner", "scale-back"))
    assert line.startswith("error: option `--reason` requires an argument"), line


def test_a_value_of_the_wrong_type(node: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _usage_line(_run(capsys, node, "--data", str(node), "serve", "--port", "eighty"), ("serve",))
    assert line.startswith("error: invalid value for --port: "), line
    line = _usage_line(_run(capsys, node, "--data", str(node), "audit", "prove", "first"), ("audit", "prove"))
    assert line.startswith("error: invalid value for SEQ: "), line


def test_an_extra_argument(node: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(capsys, node, "--data", str(node), "partner", "add", "USA", "--name", "United States", "extra")
    line = _usage_line(run, ("partner", "add"))
    assert "extra" in line, line
