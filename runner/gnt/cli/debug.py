"""gnt-debug: debugging commands (delay)."""

from __future__ import annotations

import argparse

from gnt.cli import common
from gnt.cli.common import add_command, add_submit_options, make_op, submit_or_send
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
    return parser


main = common.main_for(build_parser)
