"""`tearline vault ...` end to end through the console entry point (exit codes included)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tearline.cli.app import main

SECRET_NAME = "Ivan Petrovich Sidorov"
SECRET_PHONE = "+44 20 7946 0958"


class Cli:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        else:  # pragma: no cover - main always exits
            code = 0
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    for name in ("TEARLINE_KEK", "TEARLINE_KEK_FILE", "TEARLINE_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TEARLINE_DATA", str(tmp_path / "node"))
    monkeypatch.setenv("COLUMNS", "200")
    run = Cli(capsys)
    code, _, err = run("init")
    assert code == 0, err
    return run


@pytest.fixture
def kek(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "secrets" / "vault.kek"
    code, out, _ = cli("vault", "init-key", "--out", str(path))
    assert code == 0
    assert f"export TEARLINE_KEK_FILE={path.resolve()}" in out
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    monkeypatch.setenv("TEARLINE_KEK_FILE", str(path))
    return path


def add_nightjar(cli: Cli) -> str:
    code, out, err = cli(
        "vault", "add-source", "--cover", "nightjar", "--name", SECRET_NAME, "--alias", "The Ferryman",
        "--phone", SECRET_PHONE, "--email", "ivan@example.org", "--grade", "b2", "--compartment", "humint",
    )
    assert code == 0, err
    return out.strip()


def test_init_key_refuses_the_data_folder_and_an_existing_file(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("vault", "init-key", "--out", str(tmp_path / "node" / "vault.kek"))
    assert code == 1 and "inside the data folder" in err
    target = tmp_path / "k.kek"
    assert cli("vault", "init-key", "--out", str(target))[0] == 0
    code, _, err = cli("vault", "init-key", "--out", str(target))
    assert code == 1 and "already exists" in err


def test_add_list_show_never_print_secrets(cli: Cli, kek: Path) -> None:
    source_id = add_nightjar(cli)
    assert source_id.startswith("source--")
    code, out, _ = cli("vault", "list", "--json")
    assert code == 0
    assert json.loads(out) == [
        {"id": source_id, "cover": "NIGHTJAR", "grade": "B2", "compartments": ["HUMINT"], "term_count": 4}
    ]
    for args in (("vault", "list"), ("vault", "show", "NIGHTJAR"), ("vault", "show", source_id, "--json")):
        code, out, err = cli(*args)
        assert code == 0 and "NIGHTJAR" in out
        assert SECRET_NAME not in out + err and SECRET_PHONE not in out + err


def test_a_reveal_needs_a_reason_and_is_recorded(cli: Cli, kek: Path) -> None:
    add_nightjar(cli)
    code, out, err = cli("vault", "show", "NIGHTJAR", "--reveal")
    assert code == 3 and "--reveal needs --reason" in err and SECRET_NAME not in out
    code, out, err = cli("vault", "show", "NIGHTJAR", "--reveal", "--reason", "tasking review", "--by", "officer one")
    assert code == 0 and SECRET_NAME in out and SECRET_PHONE in out and "recorded" in err
    code, out, _ = cli("vault", "reveals", "--json")
    log = json.loads(out)
    assert [(r["by"], r["reason"]) for r in log] == [("officer one", "tasking review")]
    code, out, _ = cli("vault", "show", "NIGHTJAR", "--reveal", "--reason", "audit", "--json")
    assert json.loads(out)["identity"]["aliases"] == ["The Ferryman"]


def test_add_term_and_bad_input(cli: Cli, kek: Path) -> None:
    add_nightjar(cli)
    code, out, _ = cli("vault", "add-term", "nightjar", "Operation Blue Heron")
    assert code == 0 and "5 protected terms" in out
    code, _, err = cli("vault", "add-source", "--cover", "X", "--name", "Some Body")
    assert code == 3 and "bad cover name `X`" in err
    code, _, err = cli("vault", "add-source", "--cover", "HERON", "--name", "Some Body", "--grade", "G7")
    assert code == 3 and "bad grade `G7`" in err
    code, _, err = cli("vault", "add-source", "--cover", "NIGHTJAR", "--name", "Some Body")
    assert code == 3 and "already exists" in err
    code, _, err = cli("vault", "show", "NOBODY")
    assert code == 1 and "no source `NOBODY`" in err


def test_import_csv(cli: Cli, kek: Path, tmp_path: Path) -> None:
    header = "cover,name,aliases,phones,emails,grade,compartments\n"
    good = tmp_path / "good.csv"
    good.write_text(header + 'OSPREY,Olga Ptak,Olya;Ptashka,+48 22 555 0101,olga@example.pl,A1,PL\n'
                    "HERON,Hans Reiher,,,,,\n", "utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "KITE,Karl Milan,,,,,\nBUZZARD,Bo,,,,,\n", "utf-8")
    code, _, err = cli("vault", "import", str(bad))
    assert code == 3 and "line 3:" in err and "Bo," not in err
    assert json.loads(cli("vault", "list", "--json")[1]) == []
    code, out, _ = cli("vault", "import", str(good), "--json")
    assert code == 0 and [s["cover"] for s in json.loads(out)] == ["OSPREY", "HERON"]


def test_without_a_kek_summaries_work_and_secrets_do_not(
    cli: Cli, kek: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_nightjar(cli)
    monkeypatch.delenv("TEARLINE_KEK_FILE")
    assert cli("vault", "list")[0] == 0
    code, _, err = cli("vault", "add-term", "NIGHTJAR", "Blue Heron")
    assert code == 1 and "needs a key-encryption key" in err
    code, _, err = cli("vault", "--kek-file", str(kek), "add-term", "NIGHTJAR", "Blue Heron")
    assert code == 0, err


def test_key_rotation_from_the_command_line(
    cli: Cli, kek: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_nightjar(cli)
    new = tmp_path / "secrets" / "vault-2.kek"
    assert cli("vault", "init-key", "--out", str(new))[0] == 0
    code, out, err = cli("vault", "rotate-key", "--new-kek-file", str(new))
    assert code == 0, err
    keys = json.loads(cli("vault", "keys", "--json")[1])
    assert [(k["data_key"], k["active"], k["in_use"]) for k in keys] == [(1, True, True), (1, True, False)]
    old_id = keys[0]["kek_id"]
    assert f"retire-key {old_id}" in out
    code, _, err = cli("vault", "retire-key", old_id)
    assert code == 3 and "in use" in err
    monkeypatch.setenv("TEARLINE_KEK_FILE", str(new))
    assert cli("vault", "retire-key", old_id)[0] == 0
    code, out, _ = cli("vault", "show", "NIGHTJAR", "--reveal", "--reason", "after rotation")
    assert code == 0 and SECRET_NAME in out
    code, out, err = cli("vault", "rotate-data-key", "--batch", "2")
    assert code == 0 and "4 values re-sealed" in out, err
    code, out, _ = cli("vault", "show", "NIGHTJAR", "--reveal", "--reason", "after data key rotation")
    assert code == 0 and SECRET_PHONE in out
