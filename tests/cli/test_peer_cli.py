"""`tearline peer add`: a code already linked is refused unless `--replace`, and nothing changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.helpers import cli

from tearline.errors import EXIT_INVALID


def test_peer_added_twice_is_refused_unless_replace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    d = tmp_path / "node"
    kek = tmp_path / "vault.kek"
    assert cli(capsys, "vault", "init-key", "--out", str(kek)).code == 0
    monkeypatch.setenv("TEARLINE_KEK_FILE", str(kek))
    assert cli(capsys, "--data", str(d), "init", "--code", "GBR").code == 0
    assert cli(capsys, "--data", str(d), "partner", "add", "USA", "--name", "United States").code == 0
    tok = tmp_path / "tok"
    tok.write_text("t-one\n")
    base = ("--data", str(d), "peer", "add", "USA", "--token-file", str(tok))
    assert cli(capsys, *base, "--url", "http://127.0.0.1:1/taxii2/").code == 0
    again = cli(capsys, *base, "--url", "http://127.0.0.1:2/taxii2/")
    assert again.code == EXIT_INVALID and "--replace" in again.err and "Traceback" not in again.err
    rows = json.loads(cli(capsys, "--data", str(d), "peer", "list", "--json").out)
    assert [r["url"] for r in rows] == ["http://127.0.0.1:1/taxii2/"]  # the refused add changed nothing
    replaced = cli(capsys, *base, "--url", "http://127.0.0.1:2/taxii2/", "--replace")
    assert replaced.code == 0, replaced.err
    rows = json.loads(cli(capsys, "--data", str(d), "peer", "list", "--json").out)
    assert [r["url"] for r in rows] == ["http://127.0.0.1:2/taxii2/"]
