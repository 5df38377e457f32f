"""Shared machinery of the gnt-* commands: argument parsing, opcodes, submission, errors.

Each command module builds an :class:`argparse.ArgumentParser` with one sub-parser per
command (:func:`new_parser`, :func:`add_command`), sets ``func`` on it, and its ``main``
calls :func:`run`. Opcodes are built with :func:`make_op` (validated locally before any
submission) and submitted with :func:`submit_or_send`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from gnt import __version__
from gnt.cli._jobs import (
    CommandFailed,
    JobExecutor,
    JobSubmitted,
    format_error,
    poll_job,
    stderr,
    stdout,
    submit_job,
)
from gnt.cli._output import UNKNOWN_KIND, format_query_table, parse_fields
from gnt.cli._syntax import GntArgumentParser, SyntaxProblem, extra_arguments_problem, usage_problem
from gnt.core.errors import GntError, OpPrereqError

__all__ = [
    "CommandFailed", "JobExecutor", "JobSubmitted", "add_command", "add_list_options",
    "add_list_fields_command", "add_submit_options", "add_tag_commands", "ask_user", "confirm", "format_error",
    "get_client", "list_query", "make_op", "new_parser", "poll_job", "priority_of", "run",
    "stderr", "stdout", "submit_job", "submit_op", "submit_or_send", "EXIT_UNKNOWN_FIELD",
    "query_with_unknown", "warn_unknown_fields",
]

Handler = Callable[[argparse.Namespace], int | None]
PRIORITY_CHOICES = ("low", "normal", "high")
# Ganeti's exit code of a list command asked for fields it does not know.
EXIT_UNKNOWN_FIELD = 14
# Where confirmations are asked, as Ganeti does (never stdin, which may carry data).
TTY_PATH = "/dev/tty"

_client: Any = None


def get_client() -> Any:
    """The (lazily created) connection to the master daemon."""
    global _client
    if _client is None:
        from gnt.client.connection import Client

        _client = Client()
    return _client


def reset_client() -> None:
    """Forget the cached client (tests; after the daemon went away)."""
    global _client
    if _client is not None:
        try:
            _client.close()
        except Exception:  # noqa: BLE001 - closing a dead socket must not fail a command
            pass
    _client = None


# --- parsers ------------------------------------------------------------------------------

class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _debug_parent() -> argparse.ArgumentParser:
    """Ganeti's options common to every sub-command: ``--debug`` and ``--reason``."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("-d", "--debug", action="count", default=0,
                        help="Turn debugging on (tracebacks on errors)")
    parent.add_argument("--reason", default=None,
                        help="The reason for executing the command")
    return parent


def new_parser(prog: str, description: str) -> tuple[argparse.ArgumentParser, Any]:
    """A top-level parser for ``prog`` and its sub-command collection."""
    parser = GntArgumentParser(prog=prog, description=description, formatter_class=_Formatter)
    parser.gnt_binary = prog
    parser.gnt_commands = {}
    parser.add_argument("--version", action="version",
                        version=f"{prog} (gnt) {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands",
                                 parser_class=GntArgumentParser)
    setattr(subs, "gnt_top", parser)  # noqa: B010 - add_command registers commands here
    return parser, subs


class _UnusedParser:
    """Stands in for the parser of a sub-command the command line does not name (see
    :func:`main_for`): it takes the builder's calls (``add_argument``, groups, defaults)
    and keeps nothing."""

    def __getattr__(self, _name: str) -> Callable[..., _UnusedParser]:
        return self._ignore

    def _ignore(self, *_args: Any, **_kwargs: Any) -> _UnusedParser:
        return self


class _BuildScope:
    """The sub-command a command line names while :func:`main_for` builds its parser (None:
    build them all), and whether a builder registered it."""

    command: str | None = None
    found = False


def add_command(subs: Any, name: str, func: Handler, help_text: str,
                aliases: Sequence[str] = ()) -> argparse.ArgumentParser:
    """Register sub-command ``name`` running ``func(args)``; returns its parser.

    While :func:`main_for` builds the parser for a command line that names another
    sub-command, only the name and help are recorded and a stand-in parser is returned."""
    top = getattr(subs, "gnt_top", None)
    if _BuildScope.command is not None and _BuildScope.command not in (name, *aliases):
        if top is not None:
            top.gnt_commands[name] = help_text
        return cast(argparse.ArgumentParser, _UnusedParser())
    _BuildScope.found = True
    parser = subs.add_parser(name, help=help_text, description=help_text,
                             aliases=list(aliases), parents=[_debug_parent()],
                             formatter_class=_Formatter)
    parser.set_defaults(func=func, gnt_binary=getattr(top, "gnt_binary", None))
    if isinstance(parser, GntArgumentParser) and top is not None:
        parser.gnt_binary = top.gnt_binary
        parser.gnt_command = name
        top.gnt_commands[name] = help_text
    return parser


def add_submit_options(parser: argparse.ArgumentParser, dry_run: bool = True) -> None:
    """``--submit``, ``--print-jobid``, ``--priority``, ``--dry-run`` and ``--reason``."""
    parser.add_argument("--submit", dest="submit_only", action="store_true",
                        help="Submit the job and return the job ID, but don't wait for"
                        " the job to finish")
    parser.add_argument("--print-jobid", dest="print_jobid", action="store_true",
                        help="Additionally print the job as first line on stdout")
    add_priority_option(parser)
    if dry_run:
        parser.add_argument("--dry-run", dest="dry_run", action="store_true",
                            help="Do not execute the operation, just run the check steps"
                            " and verify if it could be executed")


def add_priority_option(parser: argparse.ArgumentParser) -> None:
    """``--priority low|normal|high``."""
    parser.add_argument("--priority", choices=PRIORITY_CHOICES, default=None,
                        help="Priority for opcode processing")


def add_list_options(parser: argparse.ArgumentParser, default_fields: Sequence[str],
                     units: bool = True, verbose: bool = True) -> None:
    """``-o``, ``--no-headers``, ``--separator`` and (optionally) ``--units`` and ``-v``."""
    parser.add_argument("-o", "--output", default=None, metavar="FIELDS",
                        help="Comma separated list of output fields; '+FIELD,...' adds to"
                        f" the defaults ({','.join(default_fields)})")
    parser.add_argument("--no-headers", action="store_true",
                        help="Don't display column headers")
    parser.add_argument("--separator", default=None,
                        help="Separator between output fields (defaults to one space)")
    if units:
        parser.add_argument("--units", choices=("h", "m", "g", "t"), default=None,
                            help="Specify units for output (one of h/m/g/t)")
    if verbose:
        parser.add_argument("-v", "--verbose", action="store_true",
                            help="Increase the verbosity of the output")


# --- opcodes and jobs ---------------------------------------------------------------------

def priority_of(args: argparse.Namespace) -> int:
    """The numeric job priority chosen with ``--priority`` (normal by default)."""
    from gnt.core.jobstate import PRIO_NORMAL, PRIORITY_NAMES

    name = getattr(args, "priority", None)
    return PRIORITY_NAMES[name] if name else PRIO_NORMAL


def make_op(op_id: str, args: argparse.Namespace | None = None, **params: Any) -> dict:
    """Build opcode ``op_id`` with the generic options of ``args``; validated locally, so bad
    input fails before anything is submitted."""
    from gnt.opcodes.registry import validate

    op: dict[str, Any] = {"OP_ID": op_id}
    op.update({key: value for key, value in params.items() if value is not None})
    if args is not None:
        if getattr(args, "dry_run", False):
            op["dry_run"] = True
        if getattr(args, "debug", 0):
            op["debug_level"] = int(args.debug)
        if getattr(args, "priority", None):
            op["priority"] = priority_of(args)
        op["reason"] = reason_trail(args)
    return validate(op)


def reason_trail(args: argparse.Namespace) -> list[list[Any]]:
    """The start of an opcode's reason trail, as Ganeti's clients build it: the user's
    ``--reason`` (if given), then the client command that submits it."""
    from gnt.core.jobstate import REASON_SRC_CLIENT, REASON_SRC_USER

    trail: list[list[Any]] = []
    if getattr(args, "reason", None):
        trail.append([REASON_SRC_USER, str(args.reason), time.time_ns()])
    binary = getattr(args, "gnt_binary", None) or os.path.basename(sys.argv[0])
    command = getattr(args, "command", None) or ""
    trail.append([f"{REASON_SRC_CLIENT}:{binary}", command, time.time_ns()])
    return trail


def _job_name(op: dict[str, Any]) -> str:
    return str(op.get("_summary") or op.get("OP_ID", "job").removeprefix("OP_"))


def submit_op(op: dict[str, Any], args: argparse.Namespace | None = None,
              name: str | None = None) -> Any:
    """Submit ``op`` as a job and wait for it; returns the opcode's result."""
    client = get_client()
    prio = priority_of(args) if args is not None else 0
    job_id = submit_job(client, [op], prio, name or _job_name(op))
    if args is not None and getattr(args, "print_jobid", False):
        stdout(str(job_id))
    results = poll_job(client, job_id)
    return results[-1] if results else None


def submit_or_send(op: dict[str, Any], args: argparse.Namespace,
                   name: str | None = None) -> Any:
    """``--submit`` prints ``JobID: N`` and stops; otherwise wait and return the result."""
    if getattr(args, "submit_only", False):
        client = get_client()
        job_id = submit_job(client, [op], priority_of(args), name or _job_name(op))
        if getattr(args, "print_jobid", False):
            stdout(str(job_id))
        raise JobSubmitted(job_id)
    return submit_op(op, args, name)


def _field_known(client: Any, what: str, name: str) -> bool:
    """Whether the daemon accepts field ``name`` of ``what`` (asked alone, config data only:
    indexed fields such as ``disk.size/0`` are not in ``query_fields``)."""
    try:
        client.call("query", what=what, fields=[name], names=[])
    except OpPrereqError:
        return False
    return True


def query_with_unknown(what: str, fields: Sequence[str], names: Sequence[str] = ()
                       ) -> dict[str, Any]:
    """``query`` answer for ``fields``, fields the daemon does not know included as Ganeti
    shows them: a column titled with the name, of kind ``unknown``, without values."""
    client = get_client()
    try:
        return dict(client.call("query", what=what, fields=list(fields), names=list(names)))
    except OpPrereqError:
        listed = {f.get("name") for f in client.call("query_fields", what=what) or []}
        unknown = {name for name in fields
                   if name not in listed and not _field_known(client, what, name)}
        if not unknown:
            raise
    known = [name for name in fields if name not in unknown]
    result = client.call("query", what=what, fields=known or ["name"], names=list(names))
    known_defs = result.get("fields") or [{"name": name, "title": name} for name in known]
    fdefs: list[dict[str, Any]] = []
    columns: list[int | None] = []
    for name in fields:
        if name in unknown:
            fdefs.append({"name": name, "title": name, "kind": UNKNOWN_KIND})
            columns.append(None)
        else:
            index = known.index(name)
            columns.append(index)
            fdefs.append(known_defs[index])
    data = [[None if col is None else row[col] for col in columns]
            for row in result.get("data") or []]
    return {"fields": fdefs, "data": data}


def warn_unknown_fields(fdefs: Sequence[dict[str, Any]]) -> bool:
    """Ganeti's warning about unknown fields of a query; True if there were any."""
    unknown = [str(f.get("name")) for f in fdefs if f.get("kind") == UNKNOWN_KIND]
    if unknown:
        stderr(f"Warning: Queried for unknown fields {', '.join(unknown)}")
    return bool(unknown)


def list_query(what: str, args: argparse.Namespace, default_fields: Sequence[str],
               names: Sequence[str] = (),
               override: dict[str, Callable[[Any], str]] | None = None) -> int:
    """Generic ``list``: query ``what`` and print Ganeti's table; unknown fields are shown
    as ``??`` columns after a warning and the command exits 14, as in Ganeti."""
    fields = parse_fields(getattr(args, "output", None), default_fields)
    result = query_with_unknown(what, fields, names)
    fdefs = result.get("fields")
    if not fdefs:
        known = {f["name"]: f for f in get_client().call("query_fields", what=what)}
        fdefs = [known.get(name, {"name": name, "title": name, "kind": UNKNOWN_KIND})
                 for name in fields]
    found_unknown = warn_unknown_fields(fdefs)
    for line in format_query_table(fdefs, result.get("data") or [],
                                   units=getattr(args, "units", None),
                                   separator=getattr(args, "separator", None),
                                   header=not getattr(args, "no_headers", False),
                                   verbose=getattr(args, "verbose", False),
                                   override=override):
        stdout(line)
    return EXIT_UNKNOWN_FIELD if found_unknown else 0


def field_rows(fields: Sequence[dict[str, Any]], wanted: Sequence[str]) -> list[dict[str, Any]]:
    """The field definitions ``list-fields`` shows: all, or the ``wanted`` ones in the order
    asked, a name not known becoming Ganeti's unknown field."""
    if not wanted:
        return list(fields)
    known = {f.get("name"): f for f in fields}
    return [known.get(name) or {"name": name, "kind": UNKNOWN_KIND, "title": name,
                                "doc": f"Unknown field '{name}'"} for name in wanted]


def print_field_list(fields: Sequence[dict[str, Any]], args: argparse.Namespace) -> int:
    """Ganeti's ``list-fields`` table (Name, Type, Title, Description); exit 14 after a
    warning when some asked field is unknown."""
    from gnt.cli._output import KIND_NAMES, generate_table

    rows = field_rows(fields, args.fields)
    found_unknown = warn_unknown_fields(rows)
    table = [[str(f.get("name") or ""), KIND_NAMES.get(str(f.get("kind")), str(f.get("kind"))),
              str(f.get("title") or ""), str(f.get("doc") or "")] for f in rows]
    for line in generate_table(["Name", "Type", "Title", "Description"], table,
                               [False] * 4, args.separator, header=not args.no_headers):
        stdout(line)
    return EXIT_UNKNOWN_FIELD if found_unknown else 0


def add_list_fields_command(subs: Any, what: str) -> None:
    """``list-fields [FIELD...]``: the fields ``list -o`` accepts, from ``query_fields``."""
    def list_fields(args: argparse.Namespace) -> int:
        return print_field_list(get_client().call("query_fields", what=what) or [], args)

    parser = add_command(subs, "list-fields", list_fields, f"Lists all available {what}"
                         " fields")
    parser.add_argument("fields", nargs="*", metavar="FIELD")
    parser.add_argument("--no-headers", action="store_true",
                        help="Don't display column headers")
    parser.add_argument("--separator", default=None, help="Separator between output fields")


# --- tags ---------------------------------------------------------------------------------

def add_tag_commands(subs: Any, kind: str, noun: str | None) -> None:
    """``list-tags``, ``add-tags`` and ``remove-tags`` for objects of ``kind``.

    ``noun`` names the object argument (``None`` for the cluster, which takes none).
    """
    from gnt.cli._params import read_tags

    def _name(args: argparse.Namespace) -> str | None:
        return getattr(args, "object_name", None)

    def list_tags(args: argparse.Namespace) -> int:
        op = make_op("OP_TAGS_GET", args, kind=kind, name=_name(args))
        for tag in sorted(submit_op(op, args) or []):
            stdout(str(tag))
        return 0

    def change_tags(op_id: str, empty: str) -> Handler:
        def handler(args: argparse.Namespace) -> int:
            tags = read_tags(args.tags, args.tags_source)
            if not tags:
                raise OpPrereqError(empty)
            op = make_op(op_id, args, kind=kind, name=_name(args), tags=tags)
            submit_or_send(op, args)
            return 0
        return handler

    specs = [("list-tags", list_tags, f"List the tags of the {noun or 'cluster'}"),
             ("add-tags", change_tags("OP_TAGS_SET", "No tags to be added"),
              f"Add tags to the {noun or 'cluster'}"),
             ("remove-tags", change_tags("OP_TAGS_DEL", "No tags to be removed"),
              f"Remove tags from the {noun or 'cluster'}")]
    for name, func, help_text in specs:
        parser = add_command(subs, name, func, help_text)
        if noun:
            parser.add_argument("object_name", metavar=noun.upper())
        if name != "list-tags":
            parser.add_argument("tags", nargs="*", metavar="TAG")
            parser.add_argument("--from", dest="tags_source", default=None, metavar="FILE",
                                help="File with tag names, one per line ('-' for stdin)")
            add_submit_options(parser)
        else:
            add_priority_option(parser)


# --- confirmation ------------------------------------------------------------------------

def _open_tty() -> int | None:
    try:
        return os.open(TTY_PATH, os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None


def _tty_line(fd: int) -> str:
    """One line typed on the terminal (``""`` at end of input)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 1)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def ask_user(question: str) -> bool | None:
    """Ask a y/n question on the controlling terminal (``/dev/tty``, as Ganeti does, never
    stdin); ``None`` when there is no terminal to ask on. End of input answers no."""
    fd = _open_tty()
    if fd is None:
        return None
    import textwrap

    text = "\n".join(textwrap.fill(line, 70, replace_whitespace=False)
                     for line in question.splitlines())
    try:
        while True:
            os.write(fd, f"{text}\ny/[n]/?: ".encode())
            answer = _tty_line(fd)
            if not answer:
                return False
            answer = answer.strip().lower()
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
            if answer == "?":
                os.write(fd, b" y - Perform the operation\n n - Do not perform the operation\n\n")
    except OSError:
        return False
    finally:
        os.close(fd)


def confirm(question: str, force_hint: str) -> bool:
    """``True`` if the user agreed; without a terminal refuse, naming the force option."""
    answer = ask_user(question)
    if answer is None:
        stderr(f"{question}\nNot confirmed: no terminal to ask on; pass {force_hint} to"
               " proceed without confirmation.")
        return False
    return answer


# --- running ------------------------------------------------------------------------------

def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; returns the exit code (Ganeti's rules:
    0 success, 1 failure or wrong number of arguments, 2 bad options, 14 unknown fields)."""
    try:
        args = _parse(parser, argv)
    except SyntaxProblem as problem:
        (stdout if problem.stream == "stdout" else stderr)("\n".join(problem.lines))
        return problem.code
    func = args.func
    try:
        return int(func(args) or 0)
    except JobSubmitted as sub:
        stdout(f"JobID: {sub.job_id}")
        return 0
    except GntError as err:
        if getattr(args, "debug", 0):
            import traceback  # only here: 3 ms of every command's start otherwise
            traceback.print_exc()
        code, message = format_error(err)
        stderr(message)
        return code
    except KeyboardInterrupt:
        stderr("Aborted. Note that if the operation created any jobs, they might have been"
               " submitted and will continue to run in the background.")
        return 1
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the final flush
        except OSError:
            pass
        return 1
    finally:
        reset_client()


# Options whose value may start with "-" (Ganeti's ``--net -1:add,...``): optparse takes the
# next word as the value, argparse would read it as an option.
DASH_VALUE_OPTIONS = ("--net", "--disk")


def _join_dash_values(argv: Sequence[str]) -> list[str]:
    """``--net -1:add`` as ``--net=-1:add`` (argparse then takes it as the value)."""
    joined: list[str] = []
    words = list(argv)
    index = 0
    while index < len(words):
        word = words[index]
        if word in DASH_VALUE_OPTIONS and index + 1 < len(words) \
                and words[index + 1].startswith("-") and not words[index + 1].startswith("--"):
            joined.append(f"{word}={words[index + 1]}")
            index += 2
            continue
        joined.append(word)
        index += 1
    return joined


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv``; arguments the sub-command did not take are a :class:`SyntaxProblem`."""
    argv = _join_dash_values(sys.argv[1:] if argv is None else argv)
    args, extras = parser.parse_known_args(argv)
    if getattr(args, "func", None) is None:
        raise usage_problem(parser)
    if extras:
        sub = _subparser(parser, getattr(args, "command", None))
        if sub is None:
            raise usage_problem(parser)
        raise extra_arguments_problem(sub, extras)
    return args


def _subparser(parser: argparse.ArgumentParser, name: str | None) -> GntArgumentParser | None:
    for action in parser._actions:  # noqa: SLF001 - argparse has no public accessor
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            sub = action.choices.get(name or "")
            if isinstance(sub, GntArgumentParser):
                return sub
    return None


def main_for(build: Callable[[], argparse.ArgumentParser]) -> Callable[[], None]:
    """A console-script entry point running the parser ``build`` returns."""
    def main(argv: Sequence[str] | None = None) -> None:
        words = sys.argv[1:] if argv is None else list(argv)
        code = run(build_for(build, words), argv)
        if argv is None and getattr(sys.modules.get("__main__"), "main", None) is main:
            exit_now(code)  # the command's own process (its script or ``python -m``)
        sys.exit(code)
    return main


def exit_now(code: int) -> None:
    """End the command's process with ``code`` once stdout and stderr are flushed and the
    ``atexit`` functions have run, without the interpreter's teardown of every imported
    module (about 10 ms of every gnt-* command; nothing of ours needs it). Exits the usual
    way (``sys.exit``) when another thread is alive (it is waited for then) or a flush
    fails (e.g. a closed pipe: the interpreter's own message and exit code then)."""
    import atexit
    threading = sys.modules.get("threading")
    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)
    if threading is not None and threading.active_count() > 1 or run_exit_functions is None:
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    run_exit_functions()
    os._exit(code)


def build_for(build: Callable[[], argparse.ArgumentParser],
              words: Sequence[str]) -> argparse.ArgumentParser:
    """The parser ``build`` returns, with only the sub-command ``words`` name fully built
    (a command runs in a fresh process: building all sub-commands' options cost gnt-instance
    0.03 s per call). When ``words`` name no sub-command (options first, ``--help``, a typo)
    every sub-command is built, so usage and errors read as before."""
    if words and not words[0].startswith("-"):
        _BuildScope.command, _BuildScope.found = words[0], False
        try:
            parser = build()
        finally:
            _BuildScope.command = None
        if _BuildScope.found:
            return parser
    return build()
