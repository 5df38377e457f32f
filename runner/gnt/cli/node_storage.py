"""gnt-node storage commands: ``list-drbd`` (the DRBD minors configured on a node)."""

from __future__ import annotations

import argparse
from typing import Any

from gnt.cli import common
from gnt.cli._output import generate_table
from gnt.cli.common import add_command, stdout

DRBD_TITLES = ("Node", "Minor", "Instance", "Disk", "Role", "PeerNode")
DRBD_NUMERIC = (False, True, False, False, False, False)


def list_drbd(args: argparse.Namespace) -> int:
    """``list-drbd NODE``: Ganeti's fixed table of the node's DRBD minors (by minor)."""
    rows: list[list[Any]] = common.get_client().call("node_drbd", node=args.node) or []
    lines = generate_table(DRBD_TITLES, [[str(cell) for cell in row] for row in sorted(rows)],
                           DRBD_NUMERIC, separator=args.separator, header=not args.no_headers)
    for line in lines:
        stdout(line)
    return 0


def register(subs: Any) -> None:
    """Add the storage commands to the gnt-node parser."""
    p = add_command(subs, "list-drbd", list_drbd, "Show the DRBD minors used on a node")
    p.add_argument("node", metavar="NODE")
    p.add_argument("--no-headers", action="store_true", help="Don't display column headers")
    p.add_argument("--separator", default=None, metavar="SEPARATOR",
                   help="Separator between output fields (default: aligned columns)")
