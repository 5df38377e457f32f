"""gnt-storage: ExtStorage providers (diagnose, info), as Ganeti's gnt-storage."""

from __future__ import annotations

import argparse
from typing import Any

from gnt.cli import common
from gnt.cli.common import add_command, make_op, stdout, submit_op


def _diagnose(args: argparse.Namespace, fields: list[str]) -> list[list[Any]]:
    op = make_op("OP_EXT_STORAGE_DIAGNOSE", args, output_fields=fields, names=[])
    return list(submit_op(op, args) or [])


def _status(valid: Any, error: Any) -> str:
    return "valid" if valid else f"invalid - {error}"


def format_diagnose(rows: list[list[Any]]) -> list[str]:
    """``gnt-storage diagnose`` lines for rows of (name, node_status, nodegroup_status)."""
    lines: list[str] = []
    for name, node_status, group_status in rows:
        good: dict[str, str] = {}
        bad: dict[str, str] = {}
        for node, found in node_status.items():
            if not found:
                bad[node] = "ExtStorage provider not found"
                continue
            path, valid, error, parameters = found[0]
            msg = f"{_status(valid, error)} (path: {path})"
            msg += (" [parameters: %s]" % ", ".join(str(p[0]) for p in parameters)
                    if parameters else " [no parameters]")
            (good if valid else bad)[node] = msg
        lines += [f"Provider: {name}", "---"]
        lines += [f"  Node: {node}, status: {good[node]}" for node in sorted(good)]
        lines += [f"  Node: {node}, status: {bad[node]}" for node in sorted(bad)]
        lines.append("  --")
        groups = sorted(group_status, key=lambda g: (not group_status[g], g))
        lines += [f"  For nodegroup: {group} --> "
                  f"{'valid' if group_status[group] else 'invalid'}" for group in groups]
        lines.append("")
    return lines


def diagnose(args: argparse.Namespace) -> int:
    """``diagnose``: every ExtStorage provider per node and node group."""
    rows = _diagnose(args, ["name", "node_status", "nodegroup_status"])
    if not rows:
        common.stderr("Can't get the list of ExtStorage providers")
        return 1
    for line in format_diagnose(rows):
        stdout(line)
    return 0


def format_info(rows: list[list[Any]], wanted: list[str]) -> list[str]:
    """``gnt-storage info`` lines for rows of (name, nodegroup_status, parameters)."""
    lines: list[str] = []
    left = list(wanted)
    for name, group_status, parameters in rows:
        if wanted:
            if name not in left:
                continue
            left.remove(name)
        valid = sorted(group for group, ok in group_status.items() if ok)
        lines.append(f"{name}:")
        if valid:
            lines.append("  - Valid for nodegroups:")
            lines += [f"      {group}" for group in valid]
            lines.append("  - Supported parameters:")
            lines += [f"      {pname}: {pdoc}" for pname, pdoc in parameters]
        else:
            lines.append("  - Invalid for all nodegroups")
        lines.append("")
    for name in left:
        lines += [f"{name}: Not Found", ""]
    return lines


def info(args: argparse.Namespace) -> int:
    """``info [PROVIDER...]``: the valid node groups and parameters of providers."""
    rows = _diagnose(args, ["name", "nodegroup_status", "parameters"])
    if not rows:
        common.stderr("Can't get the ExtStorage providers list")
        return 1
    for line in format_info(rows, list(args.providers)):
        stdout(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The gnt-storage argument parser."""
    parser, subs = common.new_parser("gnt-storage", "Storage administration (ExtStorage)")
    p = add_command(subs, "diagnose", diagnose, "Diagnose all ExtStorage providers")
    common.add_priority_option(p)
    p = add_command(subs, "info", info, "Show info about ExtStorage providers")
    p.add_argument("providers", nargs="*", metavar="PROVIDER")
    common.add_priority_option(p)
    return parser


main = common.main_for(build_parser)
