"""gnt-backup: instance exports (list, remove). Export and import come with issue 4's next
part."""

from __future__ import annotations

import argparse

from . import common
from .common import add_command, add_submit_options, make_op, stdout, submit_or_send


def list_exports(args: argparse.Namespace) -> int:
    """``list [--node NODE ...]``: the exports on every (or the given) node."""
    op = make_op("OP_BACKUP_QUERY", args, nodes=list(args.nodes or []))
    result = submit_or_send(op, args) or {}
    rc = 0
    for node in sorted(result):
        exports = result[node]
        if exports is False:
            common.stderr(f"Node: {node}\nError: the node did not answer")
            rc = 1
            continue
        stdout(f"Node: {node}")
        stdout("Exports:")
        for name in exports:
            stdout(f"  {name}")
    return rc


def remove_export(args: argparse.Namespace) -> int:
    """``remove INSTANCE``: delete the export of an instance from every node."""
    submit_or_send(make_op("OP_BACKUP_REMOVE", args, instance_name=args.name), args)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The gnt-backup argument parser."""
    parser, subs = common.new_parser("gnt-backup", "Instance export administration")
    p = add_command(subs, "list", list_exports, "List the exports on the nodes")
    p.add_argument("--node", "--nodes", dest="nodes", action="append", metavar="NODE",
                   help="Only this node (repeatable)")
    add_submit_options(p, dry_run=False)
    p = add_command(subs, "remove", remove_export, "Remove an instance's export")
    p.add_argument("name", metavar="INSTANCE")
    add_submit_options(p, dry_run=False)
    return parser


main = common.main_for(build_parser)
