"""gnt-node: node commands (list, info, tags)."""

from __future__ import annotations

import argparse
from typing import Any

from . import common
from ._output import format_generic_info, format_params_info
from .common import add_command, add_list_options, stdout

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


def build_parser() -> argparse.ArgumentParser:
    """The gnt-node argument parser."""
    parser, subs = common.new_parser("gnt-node", "Node administration")
    p = add_command(subs, "list", list_nodes, "Lists the nodes in the cluster")
    p.add_argument("names", nargs="*", metavar="NODE")
    add_list_options(p, LIST_DEFAULT_FIELDS)
    p = add_command(subs, "info", show_info, "Show information about the node(s)",
                    aliases=["show"])
    p.add_argument("names", nargs="*", metavar="NODE")
    common.add_list_fields_command(subs, "node")
    common.add_tag_commands(subs, "node", "node")
    return parser


main = common.main_for(build_parser)
