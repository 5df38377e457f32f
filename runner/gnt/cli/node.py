"""gnt-node: node commands (add, remove, modify, list, info, tags)."""

from __future__ import annotations

import argparse
from typing import Any

from gnt.cli import common, instance_move, node_storage
from gnt.cli._output import format_generic_info, format_params_info
from gnt.cli._params import keyval
from gnt.cli.common import (
    add_command,
    add_list_options,
    add_submit_options,
    make_op,
    stdout,
    submit_or_send,
)

LIST_DEFAULT_FIELDS = ("name", "dtotal", "dfree", "mtotal", "mnode", "mfree", "pinst_cnt",
                       "sinst_cnt")
INFO_FIELDS = ("name", "pip", "sip", "pinst_list", "sinst_list", "master_candidate", "drained",
               "offline", "master_capable", "vm_capable", "powered", "ndparams",
               "custom_ndparams")


def list_nodes(args: argparse.Namespace) -> int:
    """``list``: one table row per node."""
    return common.list_query("node", args, LIST_DEFAULT_FIELDS, args.names)


def node_info_data(node: dict[str, Any]) -> list[tuple[str, Any]]:
    """The ordered (key, value) structure of one node's info block."""
    data: list[tuple[str, Any]] = [
        ("Node name", node.get("name")),
        ("primary ip", node.get("pip")),
        ("secondary ip", node.get("sip")),
        ("master candidate", node.get("master_candidate")),
        ("drained", node.get("drained")),
        ("offline", node.get("offline")),
    ]
    if node.get("powered") is not None:
        data.append(("powered", node["powered"]))
    data.extend([("master_capable", node.get("master_capable")),
                 ("vm_capable", node.get("vm_capable"))])
    if node.get("vm_capable", True):
        data.extend([
            ("primary for instances", sorted(node.get("pinst_list") or [])),
            ("secondary for instances", sorted(node.get("sinst_list") or [])),
        ])
    data.append(("node parameters",
                 format_params_info(node.get("custom_ndparams"), node.get("ndparams"))))
    return data


def show_info(args: argparse.Namespace) -> int:
    """``info``: detailed information about nodes (all of them without arguments)."""
    client = common.get_client()
    known = {f["name"] for f in client.call("query_fields", what="node") or []}
    fields = [name for name in INFO_FIELDS if not known or name in known]
    result = client.call("query", what="node", fields=fields, names=list(args.names))
    nodes = [dict(zip(fields, row)) for row in result.get("data") or []]
    stdout(format_generic_info([node_info_data(node) for node in nodes]))
    return 0


def yes_no(value: str) -> bool:
    """``yes``/``no`` option values (Ganeti's boolean option syntax)."""
    lowered = value.lower()
    if lowered in ("yes", "true", "y", "1"):
        return True
    if lowered in ("no", "false", "n", "0"):
        return False
    raise argparse.ArgumentTypeError(f"invalid value '{value}': use yes or no")


def add_node(args: argparse.Namespace) -> int:
    """``add``: add (or with --readd, re-add) a node."""
    ndparams = keyval(args.node_parameters, "node parameters") if args.node_parameters else {}
    op = make_op("OP_NODE_ADD", args, node_name=args.node, secondary_ip=args.secondary_ip,
                 readd=args.readd, group=args.nodegroup, master_capable=args.master_capable,
                 vm_capable=args.vm_capable, ndparams=ndparams, primary_ip=args.primary_ip)
    submit_or_send(op, args)
    return 0


def remove_node(args: argparse.Namespace) -> int:
    """``remove``: remove a node without instances."""
    submit_or_send(make_op("OP_NODE_REMOVE", args, node_name=args.node), args)
    return 0


def powercycle_node(args: argparse.Namespace) -> int:
    """``powercycle``: hard-reboot a node (Ganeti: confirmation unless --yes; exit 2 when
    declined; the node's answer on stderr)."""
    if not args.yes and not common.confirm(
            f"Are you sure you want to hard powercycle node {args.node}?", "--yes"):
        return 2
    result = submit_or_send(make_op("OP_NODE_POWERCYCLE", args, node_name=args.node,
                                    force=args.force), args)
    if result:
        common.stderr(str(result))
    return 0


def modify_node(args: argparse.Namespace) -> int:
    """``modify``: change a node's roles and parameters."""
    ndparams = keyval(args.node_parameters, "node parameters") if args.node_parameters else {}
    op = make_op("OP_NODE_SET_PARAMS", args, node_name=args.node, force=args.force,
                 master_candidate=args.master_candidate, offline=args.offline,
                 drained=args.drained, auto_promote=args.auto_promote,
                 master_capable=args.master_capable, vm_capable=args.vm_capable,
                 secondary_ip=args.secondary_ip, ndparams=ndparams)
    result = submit_or_send(op, args)
    if result:
        stdout(f"Modified node {args.node}")
        for key, value in result:
            stdout(f" - {key} -> {value}")
    return 0


def _add_capability_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--master-capable", type=yes_no, metavar="yes|no",
                   help="Whether the node may become master or master candidate")
    p.add_argument("--vm-capable", type=yes_no, metavar="yes|no",
                   help="Whether the node may host instances")
    p.add_argument("--node-parameters", "-N", metavar="PARAMS",
                   help="Node parameters (key=value,...)")
    p.add_argument("-s", "--secondary-ip", metavar="ADDRESS",
                   help="The node's secondary (replication) address")


def build_parser() -> argparse.ArgumentParser:
    """The gnt-node argument parser."""
    parser, subs = common.new_parser("gnt-node", "Node administration")
    p = add_command(subs, "add", add_node, "Add a node to the cluster")
    p.add_argument("node", metavar="NODE")
    p.add_argument("--readd", action="store_true", help="Re-add a node that was offline or"
                   " reinstalled (it keeps its config entry)")
    p.add_argument("-g", "--node-group", dest="nodegroup", metavar="GROUP",
                   help="Node group of the new node (default: the master's)")
    p.add_argument("--primary-ip", metavar="ADDRESS",
                   help="Primary address (default: from the hosts file)")
    _add_capability_options(p)
    add_submit_options(p)
    instance_move.register_node(subs)
    p = add_command(subs, "remove", remove_node, "Remove a node from the cluster")
    p.add_argument("node", metavar="NODE")
    add_submit_options(p)
    p = add_command(subs, "powercycle", powercycle_node, "Hard-reboot a node (SysRq)")
    p.add_argument("node", metavar="NODE")
    p.add_argument("--yes", action="store_true", help="Do not ask for confirmation")
    p.add_argument("--force", action="store_true", help="Needed to powercycle the master")
    add_submit_options(p)
    p = add_command(subs, "modify", modify_node, "Change a node's roles and parameters")
    p.add_argument("node", metavar="NODE")
    p.add_argument("-C", "--master-candidate", type=yes_no, metavar="yes|no")
    p.add_argument("-D", "--drained", type=yes_no, metavar="yes|no")
    p.add_argument("-O", "--offline", type=yes_no, metavar="yes|no")
    p.add_argument("--auto-promote", action="store_true",
                   help="Promote another node if this change would shrink the candidate pool")
    p.add_argument("--force", action="store_true", help="Go on even if the candidate pool"
                   " shrinks below its size")
    _add_capability_options(p)
    add_submit_options(p)
    p = add_command(subs, "list", list_nodes, "Lists the nodes in the cluster")
    p.add_argument("names", nargs="*", metavar="NODE")
    add_list_options(p, LIST_DEFAULT_FIELDS)
    p = add_command(subs, "info", show_info, "Show information about the node(s)",
                    aliases=["show"])
    p.add_argument("names", nargs="*", metavar="NODE")
    common.add_list_fields_command(subs, "node")
    node_storage.register(subs)
    common.add_tag_commands(subs, "node", "node")
    return parser


main = common.main_for(build_parser)
