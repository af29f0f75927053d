"""What every command shares: settings from the global options, output, error → exit code."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any, NoReturn

import orjson
import typer
from rich.console import Console

from tearline.bootstrap import Node, open_node
from tearline.errors import EXIT_ERROR, EXIT_INVALID, TearlineError
from tearline.settings import Settings, load_settings

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class State:
    def __init__(self, data: str | None, db: str | None) -> None:
        self.flags = {"data": data, "db": db}
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.flags)
        return self._settings


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State(None, None)
    return root.obj


@contextlib.contextmanager
def node_of(ctx: typer.Context) -> Iterator[Node]:
    node = open_node(state(ctx).settings)
    try:
        yield node
    finally:
        node.close()


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(code)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")
    sys.stdout.flush()


def bad_option(message: str) -> NoReturn:
    fail(message, EXIT_INVALID)


def report_error(exc: TearlineError) -> int:
    err.print(f"[bold red]error:[/] {_escape(exc.message)}", markup=True, highlight=False)
    return exc.exit_code


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
