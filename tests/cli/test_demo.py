"""`tearline demo`: builds the scenario, scales one partner back, leaves a node that can be served."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from tests.helpers import cli, cli_proc


def test_demo_runs_fast_and_leaves_a_working_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    started = time.monotonic()
    run = cli_proc("demo", "--out", str(out))
    elapsed = time.monotonic() - started
    assert run.code == 0, run.err
    assert elapsed < 60
    for code in ("USA", "CAN", "AUS", "NZL", "FRA", "DEU", "JPN"):
        assert code in run.out
    assert "what-if" in run.out and "after scaling back" in run.out
    stats = json.loads(cli(capsys, "--data", str(out), "stats", "--json").out)
    assert stats["partners"] >= 6 and stats["versions"] >= 2000
    hist = json.loads(cli(capsys, "--data", str(out), "partner", "history", "USA", "--json").out)
    assert len(hist) == 2 and hist[1]["excluded_topics"]
    # running it again rebuilds the demo node; a non-demo node is never overwritten
    assert cli_proc("demo", "--out", str(out), "--size", "600").code == 0
    other = tmp_path / "real"
    assert cli(capsys, "--data", str(other), "init").code == 0
    refused = cli(capsys, "demo", "--out", str(other))
    assert refused.code != 0 and "not a demo node" in refused.err


def test_demo_keeps_its_vault_key_outside_the_working_tree(tmp_path: Path) -> None:
    """`tearline demo` in a project folder writes no key file there: `git add .` commits no key."""
    import subprocess
    import sys

    tree = tmp_path / "project"
    tree.mkdir()
    subprocess.run(["git", "init", "-q", str(tree)], check=True)
    keys = tmp_path / "xdg"
    env = {**os.environ, "COLUMNS": "200", "XDG_DATA_HOME": str(keys)}
    env.pop("TEARLINE_KEK_FILE", None)
    env.pop("TEARLINE_KEK", None)
    env.pop("TEARLINE_DATA", None)
    for _ in range(2):  # the second run finds and reuses the key made by the first
        p = subprocess.run([sys.executable, "-m", "tearline", "demo", "--size", "600"], cwd=tree, env=env,
                           capture_output=True, timeout=120)
        assert p.returncode == 0, p.stderr.decode()
    assert not [f for f in tree.rglob("*.kek")]
    made = list((keys / "tearline" / "keys").glob("tearline-data-*.kek"))
    assert len(made) == 1 and made[0].stat().st_mode & 0o077 == 0
    assert str(made[0]) in p.stdout.decode().replace("\n", "")


def test_the_projects_gitignore_covers_data_folders_and_key_files() -> None:
    import subprocess

    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    for name in ("tearline-data/tearline.db", "tearline-data.kek", "elsewhere/node.kek"):
        p = subprocess.run(["git", "check-ignore", "-q", name], cwd=root)
        assert p.returncode == 0, f"{name} is not ignored"
