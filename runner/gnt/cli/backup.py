"""gnt-backup: instance exports (export, import, list, remove)."""

from __future__ import annotations

import argparse
from typing import Any

from gnt.cli import common
from gnt.cli._create_options import add_creation_options, creation_fields
from gnt.cli._output import UNKNOWN_KIND, format_query_table, parse_fields
from gnt.cli.common import add_command, add_submit_options, make_op, stdout, submit_or_send
from gnt.opcodes.params import COMPRESSIONS, check_compression

# Exit codes of export (gnt-backup(8)): all disks, nothing (or no config), some disks.
EXIT_EXPORT_OK = 0
EXIT_EXPORT_FAILED = 1
EXIT_EXPORT_PARTIAL = 2


def export_exit_code(result: Any) -> int:
    """The exit code for an export job's result ``[finalized, [disk ok, ...]]``."""
    if not isinstance(result, (list, tuple)) or len(result) != 2:
        return EXIT_EXPORT_FAILED
    finalized, disks = result
    if not finalized:
        return EXIT_EXPORT_FAILED
    disks = list(disks or [])
    if disks and not any(disks):
        return EXIT_EXPORT_FAILED
    if not all(disks):
        return EXIT_EXPORT_PARTIAL
    return EXIT_EXPORT_OK


def export_instance(args: argparse.Namespace) -> int:
    """``export -n NODE INSTANCE``: disks and configuration to NODE's export directory."""
    check_compression(args.compress, "--compress")
    op = make_op("OP_BACKUP_EXPORT", args, instance_name=args.name, target_node=args.node,
                 shutdown=args.shutdown, shutdown_timeout=args.shutdown_timeout,
                 remove_instance=args.remove_instance,
                 ignore_remove_failures=args.ignore_remove_failures,
                 compress=args.compress, mode="local")
    result = submit_or_send(op, args, name=args.name)
    rc = export_exit_code(result)
    if rc == EXIT_EXPORT_PARTIAL:
        failed = [str(index) for index, ok in enumerate(result[1]) if not ok]
        common.stderr(f"Export of {args.name} incomplete: disk(s) {', '.join(failed)} failed"
                      " (see the messages above); consider the export invalid and retry")
    elif rc != EXIT_EXPORT_OK:
        common.stderr(f"Export of {args.name} failed")
    return rc


def import_instance(args: argparse.Namespace) -> int:
    """``import``: a new instance from an export (OP_INSTANCE_CREATE, mode import)."""
    op = make_op("OP_INSTANCE_CREATE", args, instance_name=args.name, mode="import",
                 src_node=args.src_node, src_path=args.src_dir,
                 identify_defaults=args.identify_defaults,
                 **creation_fields(args, importing=True))
    submit_or_send(op, args, name=args.name)
    return 0


# The fields of ``gnt-backup list -o`` (Ganeti's export query): name, title, description.
EXPORT_FIELDS = (("node", "Node", "Node name"), ("export", "Export", "Export name"))
LIST_DEFAULT_FIELDS = ("node", "export")


def export_rows(result: dict[str, Any]) -> list[list[Any]]:
    """``[node, export]`` rows of an OP_BACKUP_QUERY result, nodes sorted; a node that did not
    answer gives one row without an export (shown ``?``, as Ganeti shows missing data)."""
    rows: list[list[Any]] = []
    for node in sorted(result):
        exports = result[node]
        if exports is False or exports is None:
            rows.append([node, None])
        else:
            rows.extend([node, name] for name in exports)
    return rows


def list_exports(args: argparse.Namespace) -> int:
    """``list [-n NODE ...]``: Ganeti's table of the exports (fields ``node``, ``export``);
    unknown fields are ``??`` columns after a warning and the command exits 14."""
    fields = parse_fields(args.output, LIST_DEFAULT_FIELDS)
    known = {name: (title, doc) for name, title, doc in EXPORT_FIELDS}
    fdefs = [{"name": name, "title": known[name][0], "kind": "text"} if name in known
             else {"name": name, "title": name, "kind": UNKNOWN_KIND} for name in fields]
    op = make_op("OP_BACKUP_QUERY", args, nodes=list(args.nodes or []))
    result = submit_or_send(op, args) or {}
    found_unknown = common.warn_unknown_fields(fdefs)
    nodata = "(nodata)" if args.verbose else "?"  # Ganeti's mark for data a node did not give
    data = []
    for node, export in export_rows(result):
        values = {"node": node, "export": nodata if export is None else export}
        data.append([values.get(name) for name in fields])
    for line in format_query_table(fdefs, data, units=args.units, separator=args.separator,
                                   header=not args.no_headers, verbose=args.verbose):
        stdout(line)
    return common.EXIT_UNKNOWN_FIELD if found_unknown else 0


def list_export_fields(args: argparse.Namespace) -> int:
    """``list-fields [FIELD...]``: the fields ``gnt-backup list -o`` accepts."""
    fields = [{"name": name, "kind": "text", "title": title, "doc": doc}
              for name, title, doc in EXPORT_FIELDS]
    return common.print_field_list(fields, args)


def remove_export(args: argparse.Namespace) -> int:
    """``remove INSTANCE``: delete the export of an instance from every node."""
    submit_or_send(make_op("OP_BACKUP_REMOVE", args, instance_name=args.name), args)
    return 0


def _add_export_parser(subs: Any) -> None:
    p = add_command(subs, "export", export_instance, "Export an instance to a node")
    p.add_argument("name", metavar="INSTANCE")
    p.add_argument("-n", "--node", required=True, metavar="NODE",
                   help="Node to write the export to")
    p.add_argument("--shutdown-timeout", type=int, default=120, metavar="SECONDS",
                   help="Seconds to wait for the shutdown before forcing it (default 120)")
    p.add_argument("--noshutdown", dest="shutdown", action="store_false",
                   help="Do not shut the instance down: export a snapshot of its running disks")
    p.add_argument("--remove-instance", action="store_true",
                   help="Remove the instance after a complete export")
    p.add_argument("--ignore-remove-failures", action="store_true",
                   help="Keep going when removing the instance fails")
    p.add_argument("--compress", "--transport-compression", dest="compress", default="none",
                   metavar="|".join(COMPRESSIONS), help="Compression of the dumps (default none)")
    add_submit_options(p, dry_run=False)


def _add_import_parser(subs: Any) -> None:
    p = add_command(subs, "import", import_instance, "Import an instance from an export")
    p.add_argument("name", metavar="INSTANCE")
    add_creation_options(p)
    p.add_argument("--src-node", default=None, metavar="NODE",
                   help="Node holding the export (default: the node that has it)")
    p.add_argument("--src-dir", default=None, metavar="DIR",
                   help="Export directory, or name under the export directory (default:"
                        " the export named like the instance, else the newest one)")
    p.add_argument("--identify-defaults", action="store_true",
                   help="Leave parameters equal to the cluster defaults unset")
    add_submit_options(p)


def build_parser() -> argparse.ArgumentParser:
    """The gnt-backup argument parser."""
    parser, subs = common.new_parser("gnt-backup", "Instance export administration")
    _add_export_parser(subs)
    _add_import_parser(subs)
    p = add_command(subs, "list", list_exports,
                    "Lists instance exports available in the ganeti cluster")
    p.add_argument("-n", "--node", "--nodes", dest="nodes", action="append", metavar="NODE",
                   help="Only this node (repeatable)")
    common.add_list_options(p, LIST_DEFAULT_FIELDS)
    add_submit_options(p, dry_run=False)
    p = add_command(subs, "list-fields", list_export_fields,
                    "Lists all available fields for exports")
    p.add_argument("fields", nargs="*", metavar="FIELD")
    p.add_argument("--no-headers", action="store_true", help="Don't display column headers")
    p.add_argument("--separator", default=None, help="Separator between output fields")
    p = add_command(subs, "remove", remove_export, "Remove an instance's export")
    p.add_argument("name", metavar="INSTANCE")
    add_submit_options(p, dry_run=False)
    return parser


main = common.main_for(build_parser)
