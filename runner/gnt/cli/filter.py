"""gnt-filter: job filter rules (add, delete, list, list-fields, info, replace).

The master daemon checks and stores the rules (its ``replace_filter``/``delete_filter``
calls, Ganeti's luxi ReplaceFilter/DeleteFilter) and its scheduler applies them; see
:mod:`gnt.jobs.filters` for their meaning.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from typing import Any

from gnt.cli import common
from gnt.cli.common import add_command, add_list_options, stdout
from gnt.core.jobstate import REASON_SRC_USER

LIST_DEFAULT_FIELDS = ("uuid", "watermark", "priority", "predicates", "action", "reason_trail")
INFO_FIELDS = [("uuid", "UUID"), ("watermark", "  Watermark"), ("priority", "  Priority"),
               ("predicates", "  Predicates"), ("action", "  Action"),
               ("reason_trail", "  Reason trail")]
_RATE_LIMIT = re.compile(r"RATE_LIMIT\s+(\d+)")


def parse_action(value: str) -> Any:
    """Ganeti's ``--action``: ``RATE_LIMIT n`` becomes ``["RATE_LIMIT", n]``; any other text
    is passed on as it is (the daemon refuses unknown actions, naming them)."""
    match = _RATE_LIMIT.match(value)
    return ["RATE_LIMIT", int(match.group(1))] if match else value


def parse_json(value: str) -> Any:
    """A JSON option value (``--predicates``)."""
    try:
        return json.loads(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"Invalid JSON value '{value}': {err}") from err


def _reason(args: argparse.Namespace) -> list[list[Any]]:
    """The rule's reason trail: the user's ``--reason`` only (as Ganeti's gnt-filter)."""
    return [[REASON_SRC_USER, args.reason, time.time_ns()]] if args.reason else []


def _replace(args: argparse.Namespace, uuid: str | None) -> int:
    result = common.get_client().call(
        "replace_filter", uuid=uuid, priority=args.priority, predicates=args.predicates,
        action=args.action, reason=_reason(args))
    stdout(str(result))
    return 0


def add_filter(args: argparse.Namespace) -> int:
    """``add``: a new rule; prints its UUID."""
    return _replace(args, None)


def replace_filter(args: argparse.Namespace) -> int:
    """``replace UUID``: replace the rule (or create it with this UUID); prints the UUID."""
    return _replace(args, args.uuid)


def delete_filter(args: argparse.Namespace) -> int:
    """``delete UUID``."""
    common.get_client().call("delete_filter", uuid=args.uuid)
    return 0


def list_filters(args: argparse.Namespace) -> int:
    """``list [UUID...]``: Ganeti's table of the rules (every field is of kind "other",
    shown as Python shows the value, as Ganeti's)."""
    return common.list_query("filter", args, LIST_DEFAULT_FIELDS, names=args.uuids,
                             override=dict.fromkeys(LIST_DEFAULT_FIELDS, str))


def show_filters(args: argparse.Namespace) -> int:
    """``info [UUID...]``: each rule's fields, as Ganeti prints them."""
    fields = [name for name, _label in INFO_FIELDS]
    result = common.get_client().call("query", what="filter", fields=fields,
                                      names=list(args.uuids))
    for row in result["data"]:
        for (_name, label), value in zip(INFO_FIELDS, row, strict=True):
            stdout(f"{label}: {value}")
    return 0


def _add_rule_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--priority", type=int, default=0,
                        help="Priority for filter processing")
    parser.add_argument("--predicates", type=parse_json, default=[],
                        help="List of predicates in the Ganeti query language, given as a"
                        " JSON list.")
    parser.add_argument("--action", type=parse_action, default="CONTINUE",
                        help="The effect of the filter. Can be one of 'ACCEPT', 'PAUSE',"
                        " 'REJECT', 'CONTINUE' and '[RATE_LIMIT, n]', where n is a positive"
                        " integer.")


def build_parser() -> argparse.ArgumentParser:
    """The gnt-filter argument parser."""
    parser, subs = common.new_parser("gnt-filter", "Job filter rule administration")
    p = add_command(subs, "add", add_filter, "Adds a new filter rule")
    _add_rule_options(p)
    p = add_command(subs, "list", list_filters,
                    "Lists the job filter rules. The default list is (in order): "
                    + ", ".join(LIST_DEFAULT_FIELDS) + ".")
    add_list_options(p, LIST_DEFAULT_FIELDS, units=False)
    p.add_argument("uuids", nargs="*", metavar="FILTER_UUID")
    common.add_list_fields_command(subs, "filter")
    p = add_command(subs, "info", show_filters, "Shows information about the filter(s)")
    p.add_argument("uuids", nargs="*", metavar="FILTER_UUID")
    p = add_command(subs, "replace", replace_filter, "Replaces a filter")
    _add_rule_options(p)
    p.add_argument("uuid", metavar="FILTER_UUID")
    p = add_command(subs, "delete", delete_filter, "Removes a filter")
    p.add_argument("uuid", metavar="FILTER_UUID")
    return parser


main = common.main_for(build_parser)
