"""gnt-node storage commands: ``list-drbd`` (the DRBD minors configured on a node),
``list-storage`` (storage units) and ``volumes`` (logical volumes), as Ganeti's."""

from __future__ import annotations

import argparse
from typing import Any

from gnt.cli import common
from gnt.cli._output import default_units, format_unit, generate_table, parse_fields
from gnt.cli.common import (
    add_command,
    add_list_options,
    add_submit_options,
    make_op,
    stderr,
    stdout,
    submit_op,
    submit_or_send,
)
from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.opcodes.storage import MODIFIABLE_FIELDS, REPAIRABLE_TYPES, STORAGE_TYPES

STORAGE_TITLES = {"node": "Node", "type": "Type", "name": "Name", "size": "Size",
                  "used": "Used", "free": "Free", "allocatable": "Allocatable"}
STORAGE_DEFAULT = tuple(STORAGE_TITLES)
VOLUME_TITLES = {"node": "Node", "phys": "PhysDev", "vg": "VG", "name": "Name", "size": "Size",
                 "instance": "Instance"}
VOLUME_DEFAULT = tuple(VOLUME_TITLES)
SIZE_FIELDS = ("size", "used", "free")

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


def _table(args: argparse.Namespace, titles: dict[str, str], fields: list[str],
           rows: list[list[Any]]) -> None:
    """Ganeti's table of ``rows``: sizes in the chosen units and right-aligned, Y/N flags."""
    units = default_units(args.units, args.separator)
    cells = []
    for row in rows:
        line = []
        for field, value in zip(fields, row, strict=True):
            if field in SIZE_FIELDS:
                line.append(format_unit(value, units))
            elif isinstance(value, bool):
                line.append("Y" if value else "N")
            else:
                line.append(str(value))
        cells.append(line)
    for text in generate_table([titles.get(f, f) for f in fields], cells,
                               [f in SIZE_FIELDS for f in fields], separator=args.separator,
                               header=not args.no_headers):
        stdout(text)


def list_storage(args: argparse.Namespace) -> int:
    """``list-storage [--storage-type TYPE] [-o FIELDS] [NODE...]``."""
    fields = parse_fields(args.output, STORAGE_DEFAULT)
    op = make_op("OP_NODE_QUERY_STORAGE", args, nodes=list(args.nodes),
                 storage_type=args.storage_type, output_fields=fields)
    _table(args, STORAGE_TITLES, fields, submit_op(op, args) or [])
    return 0


def list_volumes(args: argparse.Namespace) -> int:
    """``volumes [-o FIELDS] [NODE...]``: logical volumes and the instances owning them."""
    fields = parse_fields(args.output, VOLUME_DEFAULT)
    op = make_op("OP_NODE_QUERYVOLS", args, nodes=list(args.nodes), output_fields=fields)
    _table(args, VOLUME_TITLES, fields, submit_op(op, args) or [])
    return 0


def modify_storage(args: argparse.Namespace) -> int:
    """``modify-storage [--allocatable yes|no] NODE TYPE NAME``."""
    changes = {} if args.allocatable is None else {"allocatable": args.allocatable}
    if not changes:
        stderr("No changes to perform, exiting.")
        return 0
    submit_or_send(make_op("OP_NODE_MODIFY_STORAGE", args, node_name=args.node,
                           storage_type=args.storage_type, name=args.name, changes=changes),
                   args)
    return 0


def repair_storage(args: argparse.Namespace) -> int:
    """``repair-storage [--ignore-consistency] NODE TYPE NAME``: any known storage type goes
    to the job, which refuses those that cannot be repaired (as Ganeti's)."""
    if args.storage_type not in STORAGE_TYPES:
        raise OpPrereqError(f"Unknown storage type: {args.storage_type}", ECODE_INVAL)
    submit_or_send(make_op("OP_REPAIR_NODE_STORAGE", args, node_name=args.node,
                           storage_type=args.storage_type, name=args.name,
                           ignore_consistency=args.ignore_consistency), args)
    return 0


def _yes_no(value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("yes", "no"):
        raise argparse.ArgumentTypeError(f"invalid value '{value}': use yes or no")
    return lowered == "yes"


def register(subs: Any) -> None:
    """Add the storage commands to the gnt-node parser."""
    p = add_command(subs, "list-drbd", list_drbd, "Show the DRBD minors used on a node")
    p.add_argument("node", metavar="NODE")
    p.add_argument("--no-headers", action="store_true", help="Don't display column headers")
    p.add_argument("--separator", default=None, metavar="SEPARATOR",
                   help="Separator between output fields (default: aligned columns)")
    p = add_command(subs, "list-storage", list_storage,
                    "Lists the storage units of the node(s)")
    p.add_argument("nodes", nargs="*", metavar="NODE")
    p.add_argument("--storage-type", "-t", dest="storage_type", choices=STORAGE_TYPES,
                   default=None, metavar="STORAGE_TYPE",
                   help=f"Storage type ({', '.join(STORAGE_TYPES)}); default: the storage of"
                        " the cluster's default disk template")
    add_list_options(p, STORAGE_DEFAULT, verbose=False)
    p = add_command(subs, "modify-storage", modify_storage, "Modify storage volume on a node")
    p.add_argument("node", metavar="NODE")
    p.add_argument("storage_type", choices=sorted(MODIFIABLE_FIELDS), metavar="STORAGE_TYPE")
    p.add_argument("name", metavar="VOLUME_NAME")
    p.add_argument("--allocatable", type=_yes_no, default=None, metavar="yes|no",
                   help="Set the allocatable flag on a storage unit")
    add_submit_options(p)
    p = add_command(subs, "repair-storage", repair_storage,
                    "Repairs a storage volume on a node")
    p.add_argument("node", metavar="NODE")
    p.add_argument("storage_type", metavar="STORAGE_TYPE",
                   help=f"Storage type ({', '.join(REPAIRABLE_TYPES)} can be repaired)")
    p.add_argument("name", metavar="VOLUME_NAME")
    p.add_argument("--ignore-consistency", action="store_true",
                   help="Ignore the consistency of the disks on the other nodes")
    add_submit_options(p)
    p = add_command(subs, "volumes", list_volumes,
                    "Lists the logical volumes of the node(s) and their instances")
    p.add_argument("nodes", nargs="*", metavar="NODE")
    add_list_options(p, VOLUME_DEFAULT, verbose=False)
