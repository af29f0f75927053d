"""`tearline trace`: leaks in the forms they take in practice, traced to the partner whose copy leaked."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.helpers import cli, cli_proc

from tearline.canonical import dumps, dumps_ordered


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("trace") / "node"
    run = cli_proc("demo", "--out", str(out))
    assert run.code == 0, run.err
    for p in ("USA", "AUS", "CAN"):
        run = cli_proc("--data", str(out), "export", p, "--out", str(out.parent / f"{p}.json"))
        assert run.code == 0, run.err
    yield out


def _copy(demo: Path, partner: str) -> list[dict[str, Any]]:
    return [o for o in orjson.loads((demo.parent / f"{partner}.json").read_bytes())["objects"]
            if o["type"] not in ("marking-definition", "identity")]


def _reports(demo: Path, partner: str) -> list[dict[str, Any]]:
    rs = [o for o in _copy(demo, partner) if o["type"] == "report"]
    return sorted(rs, key=lambda o: -len(o.get("description", "")))


def _trace(capsys: pytest.CaptureFixture[str], demo: Path, *files: Path) -> dict[str, Any]:
    run = cli(capsys, "--data", str(demo), "trace", "--json", *map(str, files))
    assert run.code == 0, run.err
    result: dict[str, Any] = json.loads(run.out)
    return result


def _accused(result: dict[str, Any]) -> list[str]:
    return [p["partner"] for p in result["partners"] if p["accused"]]


def test_a_bundle_of_five_objects_names_its_recipient_with_ledger_proofs(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    objs = sorted(_copy(demo, "USA"), key=lambda o: -len(orjson.dumps(o)))[:5]
    leak = tmp_path / "leak.json"
    leak.write_bytes(b'{"type":"bundle","id":"bundle--8d0c2c58-4b8e-4f4e-9d3f-6a1e2b3c4d5e","objects":['
                     + b",".join(dumps_ordered(o) for o in objs) + b"]}")
    result = _trace(capsys, demo, leak)
    assert _accused(result) == ["USA"]
    usa = next(p for p in result["partners"] if p["partner"] == "USA")
    assert usa["false_accusation_bound"] <= result["max_false"] and usa["score"] >= usa["threshold"]
    assert {e["stix_id"] for e in usa["entries"]} == {o["id"] for o in objs}
    assert all(e["ledger_seq"] is not None and e["proof"]["verified"] for e in usa["entries"])
    for p in result["partners"]:  # everyone scored received one of them; nobody else is
        assert p["entries"]
    table = cli(capsys, "--data", str(demo), "trace", str(leak))
    assert table.code == 0 and "ACCUSED" in table.out and "USA" in table.out


def test_an_envelope_and_a_single_object_are_read_too(demo: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    objs = sorted(_copy(demo, "AUS"), key=lambda o: -len(orjson.dumps(o)))[:6]
    env = tmp_path / "envelope.json"
    env.write_bytes(b'{"more":false,"objects":[' + b",".join(dumps_ordered(o) for o in objs) + b"]}")
    assert _accused(_trace(capsys, demo, env)) == ["AUS"]
    one = tmp_path / "one.json"
    one.write_bytes(dumps_ordered(objs[0]))
    result = _trace(capsys, demo, one)
    assert result["partners"][0]["partner"] == "AUS"  # ranked first, whether or not the evidence suffices
    assert set(_accused(result)) <= {"AUS"}


def test_report_prose_rewrapped_and_recased_or_in_a_misp_event(demo: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    text = "\n\n".join(r["description"] for r in _reports(demo, "CAN")[:12])  # short reports, few choices each
    pasted = tmp_path / "pasted.txt"
    pasted.write_text(textwrap.fill(" ".join(text.split()), 63).lower())
    result = _trace(capsys, demo, pasted)
    assert _accused(result) == ["CAN"], result["partners"][:3]
    assert all(m["how"] == "text" for m in result["matched"])
    report = _reports(demo, "CAN")[0]
    misp = tmp_path / "event.json"
    misp.write_text(json.dumps({"Event": {"info": report["name"], "uuid": report["id"].split("--")[1],
                                          "Attribute": [{"type": "text", "category": "Other",
                                                         "value": p} for p in text.split("\n\n")]}}))
    assert _accused(_trace(capsys, demo, misp)) == ["CAN"]


def test_partners_who_never_received_are_never_scored(demo: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "--data", str(demo), "partner", "add", "ITA", "--name", "Italy").code == 0
    objs = _copy(demo, "USA")[:20]
    leak = tmp_path / "leak.json"
    leak.write_bytes(b'{"objects":[' + b",".join(dumps_ordered(o) for o in objs) + b"]}")
    result = _trace(capsys, demo, leak)
    assert "ITA" not in {p["partner"] for p in result["partners"]}
    assert _accused(result) == ["USA"]


def test_a_partner_with_fingerprints_off_gets_the_plain_bytes(demo: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "--data", str(demo), "partner", "set", "NZL", "--fingerprint", "off",
              "--reason", "test", "--approved-by", "officer")
    assert run.code == 0, run.err
    history = cli(capsys, "--data", str(demo), "partner", "history", "NZL", "--json").out
    assert history.count('"fingerprint": false') == 1
    out = tmp_path / "nzl.json"
    assert cli_proc("--data", str(demo), "export", "NZL", "--out", str(out)).code == 0
    objs = orjson.loads(out.read_bytes())["objects"]
    assert all(dumps_ordered(o) == dumps(o) for o in objs)  # keys sorted: no choice made
    bad = cli(capsys, "--data", str(demo), "partner", "set", "NZL", "--fingerprint", "maybe",
              "--reason", "test", "--approved-by", "officer")
    assert bad.code == 3 and "on" in bad.err and "Traceback" not in bad.err


def test_an_unreadable_file_is_a_clear_error(demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "--data", str(demo), "trace", str(tmp_path / "missing.json"))
    assert run.code == 3 and "cannot read" in run.err
