"""Partners and trust profiles through the CLI: versions, scale-back, restore, tokens, stats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.helpers import cli

from tearline.errors import EXIT_INVALID
from tearline.services.trust import hash_token


@pytest.fixture
def data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    d = tmp_path / "node"
    assert cli(capsys, "--data", str(d), "init", "--code", "GBR").code == 0
    return d


def test_add_prints_token_once_and_stores_only_its_hash(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "--data", str(data), "partner", "add", "usa", "--name", "United States", "--json")
    assert run.code == 0
    created = json.loads(run.out)
    assert created["code"] == "USA" and len(created["token"]) > 30
    raw = (data / "tearline.db").read_bytes()
    assert created["token"].encode() not in raw
    assert hash_token(created["token"]).encode() in raw
    again = cli(capsys, "--data", str(data), "partner", "add", "USA", "--name", "again")
    assert again.code == EXIT_INVALID and "already exists" in again.err


def test_default_profile_and_versions(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli(capsys, "--data", str(data), "partner", "add", "NZL", "--name", "New Zealand")
    show = json.loads(cli(capsys, "--data", str(data), "partner", "show", "NZL", "--json").out)
    assert show["profile"]["clearance"] == "UNCLASSIFIED"
    assert show["profile"]["tlp_ceiling"] == "GREEN"
    run = cli(capsys, "--data", str(data), "partner", "set", "NZL", "--clearance", "SECRET", "--tlp-ceiling",
              "AMBER", "--exclude-topic", "china", "--reason", "new MOU", "--approved-by", "Director")
    assert run.code == 0, run.err
    hist = json.loads(cli(capsys, "--data", str(data), "partner", "history", "NZL", "--json").out)
    assert [h["version"] for h in hist] == [1, 2]
    assert hist[0]["clearance"] == "UNCLASSIFIED"  # history stays; nothing updated in place
    assert hist[1]["clearance"] == "SECRET" and hist[1]["excluded_topics"] == ["china"]
    assert hist[1]["reason"] == "new MOU" and hist[1]["approved_by"] == "Director"


def test_scale_back_refuses_widening(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli(capsys, "--data", str(data), "partner", "add", "CAN", "--name", "Canada", "--clearance", "CONFIDENTIAL")
    wide = cli(capsys, "--data", str(data), "partner", "scale-back", "CAN", "--clearance", "SECRET",
               "--reason", "r", "--approved-by", "p")
    assert wide.code == EXIT_INVALID and "--clearance" in wide.err
    narrow = cli(capsys, "--data", str(data), "partner", "scale-back", "CAN", "--exclude-topic", "russia",
                 "--embargo", "7d", "--reason", "review", "--approved-by", "p", "--json")
    assert narrow.code == 0, narrow.err
    v = json.loads(narrow.out)
    assert v["version"] == 2 and v["excluded_topics"] == ["russia"] and v["embargo"] == "7d"
    back = cli(capsys, "--data", str(data), "partner", "restore", "CAN", "--to-version", "1",
               "--reason", "review over", "--approved-by", "p", "--json")
    restored = json.loads(back.out)
    assert restored["version"] == 3 and restored["excluded_topics"] == [] and restored["embargo"] == "0"


def test_scale_back_needs_reason_and_approver(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli(capsys, "--data", str(data), "partner", "add", "AUS", "--name", "Australia")
    run = cli(capsys, "--data", str(data), "partner", "scale-back", "AUS", "--suspend", "--reason", " ",
              "--approved-by", "p")
    assert run.code == EXIT_INVALID and "--reason" in run.err


def test_token_rotation(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = json.loads(cli(capsys, "--data", str(data), "partner", "add", "FRA", "--name", "France", "--json").out)
    second = json.loads(cli(capsys, "--data", str(data), "partner", "token", "FRA", "--json").out)
    assert first["token"] != second["token"]
    with __import__("sqlite3").connect(data / "tearline.db") as conn:
        (h,) = conn.execute("select token_hash from partners where code='FRA'").fetchone()
    assert h == hash_token(second["token"])


def test_stats_contract(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli(capsys, "--data", str(data), "partner", "add", "DEU", "--name", "Germany")
    stats = json.loads(cli(capsys, "--data", str(data), "stats", "--json").out)
    assert stats == {"objects": 0, "versions": 0, "partners": 1}


def test_bad_partner_code(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "--data", str(data), "partner", "add", "u$a", "--name", "x")
    assert run.code == EXIT_INVALID and "`u$a`" in run.err


def test_a_bad_clearance_or_tlp_names_the_valid_ones(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "--data", str(data), "partner", "add", "USA", "--name", "x", "--clearance", "SECRETT")
    assert run.code == EXIT_INVALID
    assert run.err.strip() == (
        "error: unknown classification `SECRETT` (one of UNCLASSIFIED, RESTRICTED, CONFIDENTIAL, SECRET, TOP SECRET)"
    )
    run = cli(capsys, "--data", str(data), "partner", "add", "USA", "--name", "x", "--tlp-ceiling", "PINK")
    assert run.code == EXIT_INVALID
    assert run.err.strip() == "error: unknown tlp `PINK` (one of CLEAR, GREEN, AMBER, AMBER+STRICT, RED)"


def test_preview_says_which_collections_copy_it_answers_for(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--data", str(data)]
    cli(capsys, *base, "partner", "add", "USA", "--name", "United States")
    assert cli(capsys, *base, "collection", "add", "extra").code == 0
    sid = "indicator--3f0c1b5e-8a52-4d0f-9b1e-2c7c2f0c4a11"

    def bundle(name: str) -> Path:
        obj = {"type": "indicator", "spec_version": "2.1", "id": sid, "created": "2026-01-01T00:00:00.000Z",
               "modified": "2026-01-01T00:00:00.000Z", "name": name, "pattern": "[ipv4-addr:value = '198.51.100.7']",
               "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"}
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"type": "bundle", "id": "bundle--5d0c1b5e-8a52-4d0f-9b1e-2c7c2f0c4a12",
                                    "objects": [obj]}))
        return path

    label = ["--label", "UNCLASSIFIED//TLP:GREEN"]
    assert cli(capsys, *base, "ingest", str(bundle("in-shared")), *label).code == 0
    assert cli(capsys, *base, "ingest", str(bundle("in-extra")), "--collection", "extra", *label).code == 0
    default = cli(capsys, *base, "preview", "USA", sid)
    assert default.code == 0, default.err
    assert json.loads(default.out)["name"] == "in-shared"
    assert "collection `shared`" in default.err and "`extra`" in default.err
    extra = cli(capsys, *base, "preview", "USA", sid, "--collection", "extra")
    assert extra.code == 0 and json.loads(extra.out)["name"] == "in-extra"
    assert "collection `extra`" in extra.err and "also in `shared`" in extra.err
    missing = cli(capsys, *base, "preview", "USA", sid, "--collection", "nowhere")
    assert missing.code != 0 and "no collection `nowhere`" in missing.err
