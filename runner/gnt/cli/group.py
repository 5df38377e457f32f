"""gnt-group: node group commands (add, remove, rename, assign-nodes, modify, list, info,
list-fields, tags)."""

from __future__ import annotations

import argparse
from typing import Any

from gnt.cli import common
from gnt.cli._diskparams import add_diskparams_option, diskparams_from_args
from gnt.cli._output import format_generic_info, format_ipolicy, format_params_info
from gnt.cli._params import add_ipolicy_options, ipolicy_from_args, keyval
from gnt.cli.common import add_command, add_list_options, add_submit_options, make_op, stdout
from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.opcodes.group import ALLOC_POLICIES

LIST_DEFAULT_FIELDS = ("name", "node_cnt", "pinst_cnt", "alloc_policy", "ndparams")
INFO_FIELDS = ("name", "uuid", "alloc_policy", "node_list", "pinst_list", "ndparams",
               "custom_ndparams", "diskparams", "custom_diskparams", "ipolicy",
               "custom_ipolicy", "tags")


def _ndparams(args: argparse.Namespace) -> dict[str, str] | None:
    text = getattr(args, "ndparams", None)
    return keyval(text, "node parameters") if text else None


def add_group(args: argparse.Namespace) -> int:
    """``add``: create an empty node group."""
    tags = [tag for tag in (args.tags or "").split(",") if tag]
    op = make_op("OP_GROUP_ADD", args, group_name=args.group, alloc_policy=args.alloc_policy,
                 ndparams=_ndparams(args), tags=tags,
                 diskparams=diskparams_from_args(args.diskparams, allow_default=False),
                 ipolicy=ipolicy_from_args(args, allow_default=False, group=True) or {})
    common.submit_or_send(op, args, name=args.group)
    return 0


def remove_group(args: argparse.Namespace) -> int:
    """``remove``: remove an empty node group."""
    op = make_op("OP_GROUP_REMOVE", args, group_name=args.group)
    common.submit_or_send(op, args, name=args.group)
    return 0


def rename_group(args: argparse.Namespace) -> int:
    """``rename``: give a node group a new name."""
    op = make_op("OP_GROUP_RENAME", args, group_name=args.group, new_name=args.new_name)
    common.submit_or_send(op, args, name=args.group)
    return 0


def assign_nodes(args: argparse.Namespace) -> int:
    """``assign-nodes``: move nodes into a group."""
    op = make_op("OP_GROUP_ASSIGN_NODES", args, group_name=args.group, nodes=list(args.nodes),
                 force=args.force or None)
    common.submit_or_send(op, args, name=args.group)
    return 0


def modify_group(args: argparse.Namespace) -> int:
    """``modify``: change a group's allocation policy or node parameters."""
    ndparams = _ndparams(args)
    ipolicy = ipolicy_from_args(args, allow_default=True, group=True)
    diskparams = diskparams_from_args(args.diskparams)
    if args.alloc_policy is None and not ndparams and not ipolicy and not diskparams:
        raise OpPrereqError("Please give at least one of the parameters (--alloc-policy,"
                            " --node-parameters, --disk-parameters, --ipolicy-*)", ECODE_INVAL)
    op = make_op("OP_GROUP_SET_PARAMS", args, group_name=args.group,
                 alloc_policy=args.alloc_policy, ndparams=ndparams, ipolicy=ipolicy,
                 diskparams=diskparams)
    result = common.submit_or_send(op, args, name=args.group)
    if result:
        stdout(f"Modified node group {args.group}")
        for param, data in result:
            stdout(f" - {param:<5} -> {data}")
    return 0


def list_groups(args: argparse.Namespace) -> int:
    """``list``: one table row per group."""
    return common.list_query("group", args, LIST_DEFAULT_FIELDS, args.names)


def group_info_data(group: dict[str, Any]) -> list[tuple[str, Any]]:
    """The ordered (key, value) structure of one group's info block."""
    return [
        ("Node group", group.get("name")),
        ("UUID", group.get("uuid")),
        ("Allocation policy", group.get("alloc_policy")),
        ("Nodes", list(group.get("node_list") or [])),
        ("Primary instances", list(group.get("pinst_list") or [])),
        ("Node parameters",
         format_params_info(group.get("custom_ndparams"), group.get("ndparams"))),
        ("Disk parameters",
         format_params_info(group.get("custom_diskparams"), group.get("diskparams"))),
        ("Instance policy - limits for instances",
         format_ipolicy(group.get("ipolicy") or {}, group.get("custom_ipolicy") or {})),
        ("Tags", list(group.get("tags") or [])),
    ]


def show_info(args: argparse.Namespace) -> int:
    """``info``: details of groups (all of them without arguments)."""
    client = common.get_client()
    result = client.call("query", what="group", fields=list(INFO_FIELDS),
                         names=list(args.names))
    groups = [dict(zip(INFO_FIELDS, row)) for row in result.get("data") or []]
    stdout(format_generic_info([group_info_data(group) for group in groups]))
    return 0


def _policy_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--alloc-policy", default=None, choices=ALLOC_POLICIES,
                        help="Allocation policy for the node group")


def _ndparams_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--node-parameters", dest="ndparams", default=None,
                        metavar="KEY=VAL,...", help="Node parameters")
    add_ipolicy_options(parser, group=True)
    add_diskparams_option(parser)


def build_parser() -> argparse.ArgumentParser:
    """The gnt-group argument parser."""
    parser, subs = common.new_parser("gnt-group", "Node group administration")
    p = add_command(subs, "add", add_group, "Add a new node group to the cluster")
    p.add_argument("group", metavar="GROUP")
    _policy_option(p)
    _ndparams_option(p)
    p.add_argument("--tags", default=None, metavar="TAG,...", help="Node group tags")
    add_submit_options(p)

    p = add_command(subs, "remove", remove_group, "Remove an (empty) node group from the"
                    " cluster")
    p.add_argument("group", metavar="GROUP")
    add_submit_options(p)

    p = add_command(subs, "rename", rename_group, "Rename a node group")
    p.add_argument("group", metavar="GROUP")
    p.add_argument("new_name", metavar="NEW_NAME")
    add_submit_options(p)

    p = add_command(subs, "assign-nodes", assign_nodes, "Assign nodes to a node group")
    p.add_argument("group", metavar="GROUP")
    p.add_argument("nodes", nargs="+", metavar="NODE")
    p.add_argument("--force", action="store_true",
                   help="Move the nodes even if this splits instances between groups")
    add_submit_options(p)

    p = add_command(subs, "modify", modify_group, "Alter the parameters of a node group")
    p.add_argument("group", metavar="GROUP")
    _policy_option(p)
    _ndparams_option(p)
    add_submit_options(p)

    p = add_command(subs, "list", list_groups, "Lists the node groups in the cluster")
    p.add_argument("names", nargs="*", metavar="GROUP")
    add_list_options(p, LIST_DEFAULT_FIELDS, units=False)

    p = add_command(subs, "info", show_info, "Show information about node group(s)")
    p.add_argument("names", nargs="*", metavar="GROUP")
    common.add_list_fields_command(subs, "group")
    common.add_tag_commands(subs, "nodegroup", "group")
    return parser


main = common.main_for(build_parser)
