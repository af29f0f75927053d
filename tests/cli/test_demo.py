"""`tearline demo`: builds the scenario, scales one partner back, leaves a node that can be served."""

from __future__ import annotations

import json
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
