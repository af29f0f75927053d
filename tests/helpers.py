"""Running the CLI in-process and in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import pytest


@dataclass
class Run:
    code: int
    out: str
    err: str


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    """Run `tearline ARGV` in this process; returns exit code, stdout, stderr."""
    from tearline.cli.app import main

    capsys.readouterr()
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def cli_proc(*argv: str, stdin: bytes | None = None, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    """Run `python -m tearline ARGV` in a subprocess."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    p = subprocess.run(
        [sys.executable, "-m", "tearline", *argv], input=stdin, capture_output=True, env=full_env, timeout=timeout
    )
    return Run(p.returncode, p.stdout.decode(), p.stderr.decode())
