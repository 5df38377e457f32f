"""gnt-cluster verify-disks and repair-disk-sizes. verify-disks: report the disks to activate or to repair, and activate them, as
Ganeti's command does (exit 1 when a node could not be asked or volumes are missing)."""

from __future__ import annotations

import argparse
from typing import Any

from gnt.cli._jobs import format_error
from gnt.cli.common import (
    add_command,
    add_priority_option,
    make_op,
    stderr,
    stdout,
    submit_op,
)
from gnt.core.errors import GntError


def verify_disks(args: argparse.Namespace) -> int:
    """``verify-disks [--node-group GROUP] [--no-strict]``."""
    op = make_op("OP_CLUSTER_VERIFY_DISKS", args, group_name=args.nodegroup,
                 is_strict=not args.no_strict)
    answer: list[Any] = list(submit_op(op, args))
    bad_nodes, instances, missing = answer
    code = 0
    for node, text in sorted(bad_nodes.items()):
        stdout(f"Error gathering data on node {node}: {text[-400:]}")
        stdout("You need to fix these nodes first before fixing instances")
        code = 1
    for name in instances:
        if name in missing:
            continue
        stdout(f"Activating disks for instance '{name}'")
        try:
            submit_op(make_op("OP_INSTANCE_ACTIVATE_DISKS", args, instance_name=name), args)
        except GntError as err:
            failure, message = format_error(err)
            code |= failure
            stderr(f"Error activating disks for instance {name}: {message}")
    if missing:
        for name, volumes in sorted(missing.items()):
            if all(node in bad_nodes for node, _vol in volumes):
                stdout(f"Instance {name} cannot be verified as it lives on broken nodes")
                continue
            stdout(f"Instance {name} has missing logical volumes:")
            for node, vol in sorted(volumes):
                prefix = "broken node " if node in bad_nodes else ""
                stdout(f"\t{prefix}{node} /dev/{vol}")
        stdout("You need to replace or recreate disks for all the above instances if this"
               " message persists after fixing broken nodes.")
        code = 1
    elif not instances:
        stdout("No disks need to be activated.")
    return code


def repair_disk_sizes(args: argparse.Namespace) -> int:
    """``repair-disk-sizes [INSTANCE...]``: the job's log says what was corrected."""
    op = make_op("OP_CLUSTER_REPAIR_DISK_SIZES", args, instances=args.instances)
    submit_op(op, args)
    return 0


def register(subs: Any) -> None:
    """Add ``verify-disks`` to the gnt-cluster parser."""
    p = add_command(subs, "verify-disks", verify_disks, "Verify the cluster's disks and"
                    " activate those that should be active")
    p.add_argument("--node-group", dest="nodegroup", default=None, metavar="GROUP",
                   help="Only the instances of this node group")
    p.add_argument("--no-strict", action="store_true",
                   help="Do not fail when a node cannot be checked")
    add_priority_option(p)
    p = add_command(subs, "repair-disk-sizes", repair_disk_sizes,
                    "Update the recorded disk sizes from the volumes' real sizes")
    p.add_argument("instances", nargs="*", metavar="INSTANCE")
    add_priority_option(p)
