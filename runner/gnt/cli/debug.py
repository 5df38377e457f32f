"""gnt-debug: debugging commands (delay, locks)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from gnt.cli import common
from gnt.cli.common import (
    add_command,
    add_list_options,
    add_submit_options,
    make_op,
    stdout,
    submit_or_send,
)
from gnt.core.errors import ECODE_INVAL, OpPrereqError


def delay(args: argparse.Namespace) -> int:
    """``delay DURATION``: run a job that sleeps (OP_TEST_DELAY)."""
    try:
        duration = float(args.duration)
    except ValueError as err:
        raise OpPrereqError(f"Invalid duration '{args.duration}': not a number",
                            ECODE_INVAL) from err
    op = make_op("OP_TEST_DELAY", args, duration=duration, on_master=args.on_master,
                 on_nodes=args.on_nodes or [], repeat=args.repeat,
                 no_locks=bool(args.no_locks))   # the opcode's default (no locks) is for API callers
    submit_or_send(op, args)
    return 0


LOCKS_DEFAULT_FIELDS = ("name", "mode", "owner", "pending")


def _dash_if_empty(fmt: Callable[[Any], str]) -> Callable[[Any], str]:
    return lambda value: fmt(value) if value else "-"


def _format_pending(value: Any) -> str:
    """``mode:owner,owner`` per pending request, comma separated (as Ganeti's)."""
    return ", ".join(f"{mode}:{','.join(map(str, owners))}" for mode, owners in value)


LOCKS_OVERRIDE = {
    "mode": _dash_if_empty(str),
    "owner": _dash_if_empty(lambda value: ",".join(map(str, value))),
    "pending": _dash_if_empty(_format_pending),
}


def locks(args: argparse.Namespace) -> int:
    """``locks``: the master daemon's locks, their holders and waiting jobs; with
    ``--interval N`` again every N seconds until interrupted."""
    while True:
        code = common.list_query("lock", args, LOCKS_DEFAULT_FIELDS, override=LOCKS_OVERRIDE)
        if code or not args.interval:
            return code
        stdout("")
        time.sleep(args.interval)


def build_parser() -> argparse.ArgumentParser:
    """The gnt-debug argument parser."""
    parser, subs = common.new_parser("gnt-debug", "Debugging commands")
    p = add_command(subs, "delay", delay, "Executes a TestDelay OpCode")
    p.add_argument("duration", metavar="DURATION", help="Seconds to sleep (may be fractional)")
    p.add_argument("--no-master", dest="on_master", action="store_false",
                   help="Do not sleep in the master code")
    p.add_argument("-n", dest="on_nodes", action="append", metavar="NODE",
                   help="Select nodes to sleep on (repeatable)")
    p.add_argument("-r", "--repeat", type=int, default=0,
                   help="Number of times to repeat the sleep")
    p.add_argument("-l", "--no-locks", action="store_true",
                   help="Don't take locks while performing the delay")
    add_submit_options(p)
    p = add_command(subs, "locks", locks, "Show a list of locks in the master daemon")
    add_list_options(p, LOCKS_DEFAULT_FIELDS, units=False)
    p.add_argument("--interval", type=int, default=None, metavar="N",
                   help="Number of seconds between repetions of the command")
    return parser


main = common.main_for(build_parser)
