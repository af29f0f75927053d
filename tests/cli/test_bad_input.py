"""Bad input: a clear one-line error, a non-zero exit, and the database unchanged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from tests.helpers import cli

from tearline.errors import EXIT_INVALID
from tearline.store.schema import metadata

GOOD = {
    "type": "indicator",
    "spec_version": "2.1",
    "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "created": "2024-01-01T00:00:00.000Z",
    "modified": "2024-01-01T00:00:00.000Z",
    "pattern": "[ipv4-addr:value = '203.0.113.9']",
    "pattern_type": "stix",
    "valid_from": "2024-01-01T00:00:00.000Z",
}


def _obj(i: int, **extra: object) -> dict[str, object]:
    o = dict(GOOD)
    o["id"] = f"indicator--8e2e2d2b-17d4-4cbf-938f-{i:012d}"
    o.update(extra)
    return o


def _bundle(objs: list[dict[str, object]]) -> dict[str, object]:
    return {"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": objs}


def _fingerprint(data: Path) -> dict[str, int]:
    engine = create_engine(f"sqlite:///{data / 'tearline.db'}")
    with engine.connect() as conn:
        fp = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in metadata.sorted_tables}
    engine.dispose()
    return fp


@pytest.fixture
def data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    d = tmp_path / "node"
    assert cli(capsys, "--data", str(d), "init").code == 0
    assert cli(capsys, "--data", str(d), "partner", "add", "USA", "--name", "United States").code == 0
    assert cli(capsys, "--data", str(d), "ingest", _write(tmp_path / "seed.json", _bundle([_obj(1)]))).code == 0
    return d


def _write(path: Path, value: object) -> str:
    path.write_bytes(value if isinstance(value, bytes) else json.dumps(value).encode())
    return str(path)


def _one_line_error(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def _bad(capsys: pytest.CaptureFixture[str], data: Path, *argv: str) -> str:
    before = _fingerprint(data)
    run = cli(capsys, "--data", str(data), *argv)
    assert run.code != 0
    assert _fingerprint(data) == before
    return _one_line_error(run.err)


def test_truncated_json(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(_bundle([_obj(2), _obj(3)]))
    path = _write(tmp_path / "cut.json", text[: len(text) // 2].encode())
    line = _bad(capsys, data, "ingest", path)
    assert "cut.json" in line and "not valid JSON" in line


def test_object_without_id(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    obj = _obj(2)
    del obj["id"]
    line = _bad(capsys, data, "ingest", _write(tmp_path / "noid.json", _bundle([obj])))
    assert "noid.json" in line and "#0" in line and "`id`" in line


def test_wrong_spec_version(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _bad(capsys, data, "ingest", _write(tmp_path / "v20.json", _bundle([_obj(2, spec_version="2.0")])))
    assert "spec_version" in line and "indicator--8e2e2d2b-17d4-4cbf-938f-000000000002" in line


def test_fifty_megabytes_of_random_bytes(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "noise.bin"
    with path.open("wb") as f:
        for _ in range(50):
            f.write(os.urandom(1 << 20))
    line = _bad(capsys, data, "ingest", str(path))
    assert "noise.bin" in line


def test_bundle_with_one_bad_object_is_all_or_nothing(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _obj(5, pattern_type=None)
    del bad["pattern_type"]
    path = _write(tmp_path / "mixed.json", _bundle([_obj(4), bad, _obj(6)]))
    line = _bad(capsys, data, "ingest", path)
    assert "#1" in line and "pattern_type" in line
    # with --skip-invalid the good ones are stored and the bad one reported
    run = cli(capsys, "--data", str(data), "ingest", "--skip-invalid", "--json", path)
    assert run.code == 0
    summary = json.loads(run.out)
    assert (summary["new"], summary["rejected"]) == (2, 1)
    assert "pattern_type" in summary["problems"][0]


def test_unknown_partner_code(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _bad(capsys, data, "partner", "set", "XYZ", "--clearance", "SECRET", "--reason", "r", "--approved-by", "p")
    assert "`XYZ`" in line
    line = _bad(capsys, data, "preview", "XYZ", GOOD["id"])
    assert "`XYZ`" in line


def test_unknown_classification_name(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _bad(capsys, data, "ingest", "--label", "SECRETT//REL TO USA", _write(tmp_path / "o.json", _obj(9)))
    assert "SECRETT" in line
    run = cli(capsys, "--data", str(data), "partner", "set", "USA", "--clearance", "SEKRIT",
              "--reason", "r", "--approved-by", "p")
    assert run.code == EXIT_INVALID
    assert "SEKRIT" in _one_line_error(run.err)


def test_missing_file(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _bad(capsys, data, "ingest", "/nonexistent/file.json")
    assert "/nonexistent/file.json" in line


def test_not_initialised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "--data", str(tmp_path / "empty"), "stats")
    assert run.code != 0
    assert "tearline init" in _one_line_error(run.err)
