"""Usage errors on the command line: one line on standard error that names the problem and the fix,
and exit code 3; a group called with nothing after it prints its help and exits 0.

Since 0.26 typer carries its own copy of click as ``typer._click``, and its parser raises that
copy's exceptions (the separate ``click`` package is never involved). The module is private to typer,
so this is the only place tearline reads it; ``tests/cli/test_usage_errors.py`` tries every command.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from typer._click import exceptions as click_exc
from typer._click.core import Command, Context, Parameter

from tearline.cli.common import err, out
from tearline.errors import EXIT_ERROR, EXIT_INVALID, EXIT_OK


def report_click_error(exc: Exception, root: Command, argv: Sequence[str]) -> int:
    """Show a click (or typer) error and return the exit code: the help for a group given nothing,
    else one line ending with where to read the command's help. ``root`` and ``argv`` name the
    command when the error carries no context (click's parser raises some without one)."""
    if isinstance(exc, click_exc.NoArgsIsHelpError):
        # typer renders a rich help page as it builds the exception; plain help comes back as text
        text = exc.format_message()
        if text.strip():
            out.print(text, markup=False, highlight=False)
        return EXIT_OK
    if isinstance(exc, click_exc.UsageError):
        line = usage_line(exc, root, argv)
    elif isinstance(exc, click_exc.ClickException):
        line = _sentence(_backticks(exc.format_message()))
    else:
        line = _sentence(str(exc)) or type(exc).__name__
    _print_error(line)
    return EXIT_INVALID


def report_abort() -> int:
    """An interrupted prompt (end of input, or typer's Abort): one line, exit 1."""
    _print_error("aborted")
    return EXIT_ERROR


def usage_line(exc: click_exc.UsageError, root: Command, argv: Sequence[str]) -> str:
    """``<problem>; see `<command> --help```, on one line."""
    ctx = exc.ctx
    command = ctx.command_path if ctx is not None else command_path(root, argv)
    return f"{_problem(exc, ctx)}; see `{command} --help`"


def command_path(root: Command, argv: Sequence[str]) -> str:
    """The command ``argv`` names (``tearline partner scale-back``): its leading sub-command names,
    skipping options and the values they take."""
    names = [root.name or "tearline"]
    command = root
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            break
        if token.startswith("-"):
            takes_value = any(
                token in p.opts and not getattr(p, "is_flag", False)
                for p in command.params
                if p.param_type_name == "option"
            )
            if takes_value:
                next(tokens, None)
            continue
        sub = getattr(command, "commands", {}).get(token)
        if not isinstance(sub, Command):
            break
        names.append(token)
        command = sub
    return " ".join(names)


def _problem(exc: click_exc.UsageError, ctx: Context | None) -> str:
    if isinstance(exc, click_exc.MissingParameter) and exc.param is not None:
        param = exc.param
        text = f"missing {param.param_type_name} {param_name(param)}"
        choices = param.get_missing_message(ctx)  # "Choose from: ..." for a choice, else empty
        about = [_sentence(h) for h in (getattr(param, "help", None), choices) if h]
        return f"{text} ({'; '.join(about)})" if about else text
    if isinstance(exc, click_exc.NoSuchOption):
        text = f"no such option {exc.option_name}"
        if exc.possibilities:
            text += f" (did you mean {' or '.join(sorted(exc.possibilities))}?)"
        return text
    if isinstance(exc, click_exc.BadParameter) and not isinstance(exc, click_exc.MissingParameter):
        if exc.param is not None:
            return f"invalid value for {param_name(exc.param)}: {_sentence(exc.message)}"
        return f"invalid value: {_sentence(exc.message)}"
    text = _sentence(_backticks(exc.format_message()))
    commands = _subcommands(ctx)
    if commands and type(exc) is click_exc.UsageError:  # "missing command", "no such command"
        text += f" (commands: {', '.join(commands)})"
    return text


def param_name(param: Parameter) -> str:
    """How the command line spells a parameter: ``--reason`` for an option, ``CODE`` for an argument."""
    if param.param_type_name == "option" and param.opts:
        return param.opts[0]
    return (param.metavar or param.name or "?").upper()


def _subcommands(ctx: Context | None) -> list[str]:
    if ctx is None:
        return []
    commands = getattr(ctx.command, "commands", None)
    return sorted(commands) if isinstance(commands, dict) else []


def _backticks(text: str) -> str:
    """click quotes names with '...'; tearline's messages put them in backticks."""
    return re.sub(r"'([^'\s]+)'", r"`\1`", text)


def _sentence(text: str) -> str:
    """One line, no final period, lower case first letter (unless it starts an acronym)."""
    line = " ".join(text.split()).rstrip(".")
    if line[:1].isupper() and not line[1:2].isupper():
        line = line[0].lower() + line[1:]
    return line


def _print_error(line: str) -> None:
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(line)}", markup=True, highlight=False)
