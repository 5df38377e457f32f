"""gnt-os: guest OS definitions (list, diagnose)."""

from __future__ import annotations

import argparse
from typing import Any

from gnt.cli import common
from gnt.cli._output import generate_table
from gnt.cli.common import add_command, make_op, stdout, submit_op
from gnt.core.errors import GntError


def os_names(name: str, variants: list[str] | None) -> list[str]:
    """``name+variant`` for each variant (just the name when it has none)."""
    return [f"{name}+{variant}" for variant in variants] if variants else [name]


def _diagnose(args: argparse.Namespace) -> list[dict[str, Any]]:
    op = make_op("OP_OS_DIAGNOSE", args, output_fields=[], names=[])
    return list(submit_op(op, args) or [])


def list_os(args: argparse.Namespace) -> int:
    """``list``: the OS definitions usable on the cluster (valid on every node)."""
    try:
        result = common.get_client().call("query", what="os", fields=["name"], names=[])
        names = sorted({str(row[0]) for row in result.get("data") or []})
    except GntError:
        # No OS query resource in this daemon: derive the list from a diagnose job.
        first: dict[tuple[str, str], dict[str, Any]] = {}
        for entry in _diagnose(args):  # the first entry of an OS on a node counts
            first.setdefault((entry["name"], str(entry.get("node"))), entry)
        invalid = {name for (name, _node), e in first.items() if not e.get("valid")}
        names = sorted({n for (name, _node), e in first.items() if name not in invalid
                        for n in os_names(name, e.get("variants"))})
    for line in generate_table(["Name"], [[name] for name in names], [False],
                               header=not args.no_headers):
        stdout(line)
    return 0


def _status(valid: Any, error: Any) -> str:
    return "valid" if valid else f"invalid - {error}"


def _node_message(entry: dict[str, Any]) -> str:
    if entry.get("not_found"):
        return "OS not found"
    msg = f"{_status(entry.get('valid'), entry.get('error'))} (path: {entry.get('path')})"
    apis = entry.get("api_versions") or []
    if apis:
        msg += " [API versions: %s]" % ", ".join(map(str, apis))
        if max(apis) >= 15:
            variants = entry.get("variants") or []
            msg += " [variants: %s]" % ", ".join(variants) if variants else " [no variants]"
        if max(apis) >= 20:
            params = [p[0] if isinstance(p, (list, tuple)) else str(p)
                      for p in entry.get("parameters") or []]
            msg += " [parameters: %s]" % ", ".join(params) if params else " [no parameters]"
    else:
        msg += " [no API versions declared]"
    return msg


def format_diagnose(entries: list[dict[str, Any]]) -> tuple[list[str], bool]:
    """``gnt-os diagnose`` lines for OP_OS_DIAGNOSE entries; also whether any OS is bad.

    Entries are ``{name, node, path, valid, error, api_versions, variants}``; for an OS
    found several times on one node, the first entry counts and later ones are hidden.
    """
    by_os: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for entry in entries:
        by_os.setdefault(str(entry.get("name")), {}).setdefault(
            str(entry.get("node")), []).append(entry)
    lines: list[str] = []
    has_bad = False
    for os_name in sorted(by_os):
        valid_nodes: dict[str, str] = {}
        bad_nodes: dict[str, str] = {}
        hidden: dict[str, list[str]] = {}
        variants: list[str] = []
        for node, found in by_os[os_name].items():
            first, rest = found[0], found[1:]
            target = valid_nodes if first.get("valid") else bad_nodes
            target[node] = _node_message(first)
            for variant in first.get("variants") or []:
                if variant not in variants:
                    variants.append(variant)
            hidden[node] = [f"    [hidden] path: {e.get('path')}, status:"
                            f" {_status(e.get('valid'), e.get('error'))}" for e in rest]
        if valid_nodes and not bad_nodes:
            status = "valid"
        elif bad_nodes and not valid_nodes:
            status, has_bad = "invalid", True
        else:
            status, has_bad = "partial valid", True
        lines.append(f"OS: {os_name} [global status: {status}]")
        if variants:
            lines.append("  Variants: [%s]" % ", ".join(variants))
        for group in (valid_nodes, bad_nodes):
            for node in sorted(group):
                lines.append(f"  Node: {node}, status: {group[node]}")
                lines.extend(hidden[node])
        lines.append("")
    return lines, has_bad


def diagnose_os(args: argparse.Namespace) -> int:
    """``diagnose``: the state of every OS definition on every node (exit 1 if any bad)."""
    entries = _diagnose(args)
    if not entries:
        common.stderr("Can't get the OS list")
        return 1
    lines, has_bad = format_diagnose(entries)
    for line in lines:
        stdout(line)
    return int(has_bad)


def build_parser() -> argparse.ArgumentParser:
    """The gnt-os argument parser."""
    parser, subs = common.new_parser("gnt-os", "Guest OS definitions")
    p = add_command(subs, "list", list_os, "Lists all valid operating systems on the cluster")
    p.add_argument("--no-headers", action="store_true", help="Don't display column headers")
    common.add_priority_option(p)
    p = add_command(subs, "diagnose", diagnose_os, "Diagnose all operating systems")
    common.add_priority_option(p)
    return parser


main = common.main_for(build_parser)
