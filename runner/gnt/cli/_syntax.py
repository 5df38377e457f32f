"""Command line syntax errors reported the way Ganeti's gnt-* commands report them.

Ganeti parses each sub-command with :mod:`optparse` and then checks the number of positional
arguments itself. So, as there:

- an option problem (unknown option, option without its value, bad choice or number) prints
  the sub-command's usage block and ``gnt-instance: error: no such option: --bogus`` on
  stderr and exits 2 (optparse's exit code);
- a wrong number of arguments prints ``Error: Command info expects at least 1 argument(s)``
  and exits 1;
- an unknown (or no) sub-command prints the list of commands on stdout and exits 1.

:class:`GntArgumentParser` turns argparse's complaints into :class:`SyntaxProblem`, which
:func:`gnt.cli.common.run` prints and turns into the exit code.
"""

from __future__ import annotations

import argparse
import re
import textwrap
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

# Exit codes (Ganeti: optparse errors exit 2, argument count errors and usage exit 1).
EXIT_OPTION_ERROR = 2
EXIT_ARGUMENT_ERROR = 1
EXIT_USAGE = 1

_ARGUMENT_RE = re.compile(r"^argument (?P<name>[^:]+): (?P<detail>.*)$", re.DOTALL)
_EXPECTED_RE = re.compile(r"^expected (?P<count>one|\d+) arguments?$")
_REQUIRED = "the following arguments are required: "
_UNRECOGNIZED = "unrecognized arguments: "


class SyntaxProblem(Exception):  # noqa: N818 - a control-flow signal, like JobSubmitted
    """A command line the command cannot run: ``lines`` go to ``stream``, exit ``code``."""

    def __init__(self, code: int, lines: Sequence[str], stream: str = "stderr") -> None:
        super().__init__("\n".join(lines))
        self.code = code
        self.lines = list(lines)
        self.stream = stream


class GntArgumentParser(argparse.ArgumentParser):
    """An argument parser whose errors raise :class:`SyntaxProblem` in Ganeti's format.

    ``gnt_binary`` is the program (``gnt-instance``), ``gnt_command`` the sub-command this
    parser parses (``None`` for the top-level parser).
    """

    gnt_binary: str = ""
    gnt_command: str | None = None
    gnt_commands: dict[str, str] | None = None

    def error(self, message: str) -> NoReturn:
        """Raise the Ganeti form of argparse's ``message`` (never prints or exits itself)."""
        if self.gnt_command is None:
            raise usage_problem(self)
        if message.startswith(_REQUIRED):
            missing = [name.strip() for name in message[len(_REQUIRED):].split(",")]
            if any(not name.startswith("-") for name in missing):
                raise count_problem(self, too_many=False)
            raise SyntaxProblem(EXIT_ARGUMENT_ERROR, [
                f"Error: Command {self.gnt_command} requires the option"
                f" {' and '.join(missing)}"])
        if message.startswith(_UNRECOGNIZED):
            raise extra_arguments_problem(self, message[len(_UNRECOGNIZED):].split())
        match = _ARGUMENT_RE.match(message)
        if match is None:
            raise option_problem(self, message)
        name, detail = match.group("name"), match.group("detail")
        if not name.startswith("-"):
            raise SyntaxProblem(EXIT_ARGUMENT_ERROR, [
                f"Error: Command {self.gnt_command}: {name}: {detail}"])
        option = name.split("/")[0]
        expected = _EXPECTED_RE.match(detail)
        if expected is not None:
            count = 1 if expected.group("count") == "one" else int(expected.group("count"))
            raise option_problem(self, f"{option} option requires {count}"
                                 f" argument{'s' if count > 1 else ''}")
        detail = detail.replace("invalid int value", "invalid integer value")
        detail = detail.replace("invalid float value", "invalid floating-point value")
        detail = detail.replace("with argument ", "with option ")
        raise option_problem(self, f"option {option}: {detail}")


def _positionals(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [action for action in parser._actions  # noqa: SLF001 - argparse has no public list
            if not action.option_strings and action.dest != argparse.SUPPRESS
            and not isinstance(action, argparse._SubParsersAction)]  # noqa: SLF001


def _bounds(action: argparse.Action) -> tuple[int, int | None]:
    nargs = action.nargs
    if nargs is None:
        return 1, 1
    if nargs == argparse.OPTIONAL:
        return 0, 1
    if nargs == argparse.ZERO_OR_MORE:
        return 0, None
    if nargs == argparse.ONE_OR_MORE:
        return 1, None
    if isinstance(nargs, int):
        return nargs, nargs
    return 0, None


def argument_bounds(parser: argparse.ArgumentParser) -> tuple[int, int | None]:
    """(minimum, maximum or None) number of positional arguments ``parser`` takes."""
    low, high = 0, 0
    unlimited = False
    for action in _positionals(parser):
        amin, amax = _bounds(action)
        low += amin
        if amax is None:
            unlimited = True
        else:
            high += amax
    return low, None if unlimited else high


def positional_usage(parser: argparse.ArgumentParser) -> str:
    """``INSTANCE [NODE...]``: the positional part of a sub-command's usage line."""
    parts = []
    for action in _positionals(parser):
        metavar = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
        amin, amax = _bounds(action)
        if amax is None:
            parts.append(f"{metavar}..." if amin else f"[{metavar}...]")
        elif amin == 0:
            parts.append(f"[{metavar}]")
        else:
            parts.append(" ".join([metavar] * amin))
    return " ".join(parts)


def count_problem(parser: GntArgumentParser, too_many: bool) -> SyntaxProblem:
    """Ganeti's message for a wrong number of positional arguments (exit 1)."""
    low, high = argument_bounds(parser)
    cmd = parser.gnt_command
    if too_many and high == 0:
        text = f"Error: Command {cmd} expects no arguments"
    elif high is not None and low == high:
        text = f"Error: Command {cmd} expects {low} argument(s)"
    elif too_many:
        text = f"Error: Command {cmd} expects only {high} argument(s)"
    else:
        text = f"Error: Command {cmd} expects at least {low} argument(s)"
    return SyntaxProblem(EXIT_ARGUMENT_ERROR, [text])


def option_problem(parser: GntArgumentParser, message: str) -> SyntaxProblem:
    """optparse's report of a bad option: the usage block, then ``prog: error: message``."""
    usage = f"{parser.gnt_binary} {parser.gnt_command} [options]"
    args = positional_usage(parser)
    if args:
        usage += f" {args}"
    return SyntaxProblem(EXIT_OPTION_ERROR, [
        "Usage", "=====", f"  {usage}", "", f"{parser.gnt_binary}: error: {message}"])


def extra_arguments_problem(parser: GntArgumentParser, extras: Sequence[str]) -> SyntaxProblem:
    """What Ganeti says about arguments the sub-command did not consume."""
    for extra in extras:
        if extra.startswith("-") and extra != "-":
            return option_problem(parser, f"no such option: {extra.split('=')[0]}")
    return count_problem(parser, too_many=True)


def format_usage(binary: str, commands: dict[str, str]) -> Iterator[str]:
    """The command overview Ganeti prints for ``gnt-foo`` without (or with a bad) command."""
    width = min(60, max(map(len, commands), default=0))
    yield f"Usage: {binary} {{command}} [options...] [argument...]"
    yield f"{binary} <command> --help to see details, or man {binary}"
    yield ""
    yield "Commands:"
    for cmd in sorted(commands):
        lines = textwrap.wrap(commands[cmd], 79 - 3 - width) or [""]
        yield f" {cmd:<{width}} - {lines[0]}"
        for line in lines[1:]:
            yield f" {'':<{width}}   {line}"
    yield ""


def usage_problem(parser: Any) -> SyntaxProblem:
    """No or an unknown sub-command: the command overview on stdout, exit 1."""
    lines = list(format_usage(parser.gnt_binary, parser.gnt_commands or {}))
    return SyntaxProblem(EXIT_USAGE, lines, stream="stdout")
