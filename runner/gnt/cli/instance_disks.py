"""gnt-instance activate-disks, deactivate-disks, replace-disks, grow-disk and recreate-disks."""

from __future__ import annotations

import argparse
from typing import Any

from gnt.cli._params import ident_keyval, parse_size, split_node
from gnt.cli.common import add_command, add_submit_options, make_op, stdout, submit_or_send
from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.core.units import UnitError, parse_size_mib


def activate_disks(args: argparse.Namespace) -> int:
    """``gnt-instance activate-disks``: prints ``node:disk/N:device`` per disk, as Ganeti."""
    op = make_op("OP_INSTANCE_ACTIVATE_DISKS", args, instance_name=args.name,
                 ignore_size=args.ignore_size, wait_for_sync=args.wait_for_sync)
    result: Any = submit_or_send(op, args, name=args.name)
    for node, disk, device in result or []:
        stdout(f"{node}:{disk}:{device}")
    return 0


def deactivate_disks(args: argparse.Namespace) -> int:
    """``gnt-instance deactivate-disks``."""
    op = make_op("OP_INSTANCE_DEACTIVATE_DISKS", args, instance_name=args.name,
                 force=args.force)
    submit_or_send(op, args, name=args.name)
    return 0


def grow_disk(args: argparse.Namespace) -> int:
    """``gnt-instance grow-disk INSTANCE DISK AMOUNT`` (AMOUNT with a unit, MiB by default)."""
    try:
        disk = int(args.disk)
    except ValueError as err:
        raise OpPrereqError(f"Invalid disk index passed: {args.disk}", ECODE_INVAL) from err
    try:
        amount = parse_size_mib(args.amount)
    except UnitError as err:
        raise OpPrereqError(f"Invalid amount '{args.amount}': {err}", ECODE_INVAL) from err
    op = make_op("OP_INSTANCE_GROW_DISK", args, instance_name=args.name, disk=disk,
                 amount=amount, wait_for_sync=args.wait_for_sync, absolute=args.absolute,
                 ignore_ipolicy=args.ignore_ipolicy or None)
    submit_or_send(op, args, name=args.name)
    return 0


def replace_disks(args: argparse.Namespace) -> int:
    """``gnt-instance replace-disks {-p|-s [--disks N,...] | -n NODE | -I NAME | -a} INSTANCE``."""
    chosen = [args.on_primary, args.on_secondary, args.auto, args.new_secondary is not None,
              args.iallocator is not None]
    if chosen.count(True) != 1:
        raise OpPrereqError("One and only one of the -p, -s, -a, -n and -I options must be"
                            " passed", ECODE_INVAL)
    if args.on_primary:
        mode = "replace_on_primary"
    elif args.on_secondary:
        mode = "replace_on_secondary"
    elif args.auto:
        mode = "replace_auto"
    else:
        mode = "replace_new_secondary"
    disks: list[int] = []
    if args.disks:
        try:
            disks = [int(index) for index in args.disks.split(",")]
        except ValueError as err:
            raise OpPrereqError(f"Invalid disk index passed: {args.disks}",
                                ECODE_INVAL) from err
    op = make_op("OP_INSTANCE_REPLACE_DISKS", args, instance_name=args.name, mode=mode,
                 disks=disks, remote_node=args.new_secondary, iallocator=args.iallocator,
                 early_release=args.early_release, ignore_ipolicy=args.ignore_ipolicy)
    submit_or_send(op, args, name=args.name)
    return 0


def _recreate_disk(spec: str) -> list[Any]:
    """One ``--disk N[:size=VAL][,mode=ro|rw]`` of recreate-disks as ``[N, {changes}]`` (the
    size in MiB; which parameters may change is checked by the master, as in Ganeti)."""
    ident, changes = ident_keyval(spec, "disk parameters")
    try:
        index = int(ident)
    except ValueError as err:
        raise OpPrereqError(f"Invalid disk index passed: '{ident}'", ECODE_INVAL) from err
    if index < 0:
        raise OpPrereqError(f"Invalid disk index passed: '{ident}'", ECODE_INVAL)
    parsed: dict[str, Any] = dict(changes)
    if "size" in parsed:
        parsed["size"] = parse_size(parsed["size"], f"disk size for disk {index}")
    if "spindles" in parsed:
        try:
            parsed["spindles"] = int(parsed["spindles"])
        except ValueError as err:
            raise OpPrereqError(f"Invalid spindles for disk {index}: {parsed['spindles']}",
                                ECODE_INVAL) from err
    return [index, parsed]


def recreate_disks(args: argparse.Namespace) -> int:
    """``gnt-instance recreate-disks [-n P[:S] | -I NAME] [--disk N[:size=S,mode=M]]...
    INSTANCE``."""
    disks = [_recreate_disk(spec) for spec in args.disks or []]
    nodes: list[str] = []
    if args.node:
        if args.iallocator:
            raise OpPrereqError("At most one of either --nodes or --iallocator can be passed",
                                ECODE_INVAL)
        pnode, snode = split_node(args.node)
        nodes = [name for name in (pnode, snode) if name]
    op = make_op("OP_INSTANCE_RECREATE_DISKS", args, instance_name=args.name, disks=disks,
                 nodes=nodes, iallocator=args.iallocator)
    submit_or_send(op, args, name=args.name)
    return 0


def register_instance(subs: Any) -> None:
    """Add the disk commands to the gnt-instance parser."""
    p = add_command(subs, "activate-disks", activate_disks,
                    "Activate an instance's disks and show their devices")
    p.add_argument("name", metavar="INSTANCE")
    p.add_argument("--ignore-size", action="store_true",
                   help="Ignore the size of the disks (for recovery)")
    p.add_argument("--wait-for-sync", action="store_true",
                   help="Wait for the disks to synchronise")
    add_submit_options(p)
    p = add_command(subs, "deactivate-disks", deactivate_disks,
                    "Deactivate the disks of a stopped instance")
    p.add_argument("name", metavar="INSTANCE")
    p.add_argument("-f", "--force", action="store_true",
                   help="Deactivate even if the instance is marked up or running")
    add_submit_options(p)
    p = add_command(subs, "replace-disks", replace_disks,
                    "Replace the disks of a drbd instance, or change its secondary node")
    p.add_argument("name", metavar="INSTANCE")
    p.add_argument("-p", "--on-primary", dest="on_primary", action="store_true",
                   help="Replace the disks on the primary node")
    p.add_argument("-s", "--on-secondary", dest="on_secondary", action="store_true",
                   help="Replace the disks on the secondary node")
    p.add_argument("-a", "--auto", action="store_true",
                   help="Replace the disks of the node that has faulty ones")
    p.add_argument("-n", "--new-secondary", dest="new_secondary", default=None,
                   metavar="NODE", help="Move the secondary to this node")
    p.add_argument("-I", "--iallocator", default=None, metavar="NAME",
                   help="Choose the new secondary with this allocator")
    p.add_argument("--disks", default=None, metavar="IDX,...",
                   help="Only these disks (with -p or -s)")
    p.add_argument("--early-release", action="store_true",
                   help="Release the locks as soon as possible")
    p.add_argument("--ignore-ipolicy", action="store_true",
                   help="Ignore the instance policy of the new node")
    add_submit_options(p)
    p = add_command(subs, "grow-disk", grow_disk, "Grow an instance's disk")
    p.add_argument("name", metavar="INSTANCE")
    p.add_argument("disk", metavar="DISK")
    p.add_argument("amount", metavar="AMOUNT")
    p.add_argument("--no-wait-for-sync", dest="wait_for_sync", action="store_false",
                   help="Do not wait for the disks to synchronise")
    p.add_argument("--absolute", action="store_true",
                   help="AMOUNT is the new size, not the increase")
    p.add_argument("--ignore-ipolicy", action="store_true",
                   help="Ignore instance policy violations")
    add_submit_options(p)
    p = add_command(subs, "recreate-disks", recreate_disks,
                    "Recreate (empty) the missing disks of a stopped instance")
    p.add_argument("name", metavar="INSTANCE")
    p.add_argument("-n", "--node", default=None, metavar="NODE[:SECONDARY]",
                   help="Recreate the disks on these nodes (all disks; as many nodes as the"
                   " instance has)")
    p.add_argument("-I", "--iallocator", default=None, metavar="NAME",
                   help="Choose the new nodes with this allocator")
    p.add_argument("--disk", dest="disks", action="append", default=None,
                   metavar="N[:size=VAL][,mode=ro|rw]",
                   help="Recreate only this disk (repeatable), optionally changing its size"
                   " or mode")
    add_submit_options(p)
