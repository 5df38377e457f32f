"""gnt-instance migrate, failover and move; gnt-node migrate and evacuate."""

from __future__ import annotations

import argparse
from typing import Any

from gnt.cli import common
from gnt.cli._jobs import JobExecutor
from gnt.cli.common import (
    add_command,
    add_submit_options,
    confirm,
    make_op,
    priority_of,
    stderr,
    stdout,
    submit_or_send,
)
from gnt.core.errors import ECODE_NOENT, OpPrereqError


def _mode(args: argparse.Namespace) -> str | None:
    if getattr(args, "non_live", False):
        return "non-live"
    return args.migration_mode


def _say_where(name: str, result: Any) -> None:
    if isinstance(result, dict) and result.get("node"):
        stdout(f"Instance {name} is on node {result['node']}")


def migrate_instance(args: argparse.Namespace) -> int:
    """``gnt-instance migrate``: live-migrate (or with --cleanup, reconcile) an instance."""
    if not args.force:
        what = ("clean up the migration of" if args.cleanup else "migrate")
        if not confirm(f"Instance {args.name} will be {'checked' if args.cleanup else 'migrated'}"
                       f" ({what} {args.name}). Continue?", "--force (-f)"):
            return 1
    op = make_op("OP_INSTANCE_MIGRATE", args, instance_name=args.name, mode=_mode(args),
                 cleanup=args.cleanup, target_node=args.dst_node, iallocator=args.iallocator,
                 allow_failover=args.allow_failover,
                 allow_runtime_changes=not args.no_runtime_changes,
                 shutdown_timeout=args.shutdown_timeout,
                 ignore_ipolicy=args.ignore_ipolicy or None)
    _say_where(args.name, submit_or_send(op, args, name=args.name))
    return 0


def failover_instance(args: argparse.Namespace) -> int:
    """``gnt-instance failover``: restart an instance on another node."""
    if not args.force and not confirm(
            f"Failover will happen to image {args.name}. This requires a shutdown of the"
            " instance. Continue?", "--force (-f)"):
        return 1
    op = make_op("OP_INSTANCE_FAILOVER", args, instance_name=args.name,
                 ignore_consistency=args.ignore_consistency, target_node=args.dst_node,
                 iallocator=args.iallocator, shutdown_timeout=args.shutdown_timeout,
                 ignore_ipolicy=args.ignore_ipolicy or None)
    _say_where(args.name, submit_or_send(op, args, name=args.name))
    return 0


def move_instance(args: argparse.Namespace) -> int:
    """``gnt-instance move``: copy a non-redundant instance to another node."""
    if not args.force and not confirm(
            f"Instance {args.name} will be moved. This requires a shutdown of the instance."
            " Continue?", "--force (-f)"):
        return 1
    op = make_op("OP_INSTANCE_MOVE", args, instance_name=args.name, target_node=args.dst_node,
                 shutdown_timeout=args.shutdown_timeout,
                 ignore_consistency=args.ignore_consistency,
                 ignore_ipolicy=args.ignore_ipolicy or None)
    submit_or_send(op, args, name=args.name)
    return 0


EXIT_CONFIRMATION = 13     # Ganeti's exit code when the user declines


def _node_instances(node: str, fields: list[str]) -> tuple[str, list[str]]:
    """The node's full name and the instances listed in ``fields`` (pinst_list, sinst_list)."""
    answer = common.get_client().call("query", what="node", fields=["name", *fields],
                                      names=[node])
    rows = answer.get("data") or []
    if not rows:
        raise OpPrereqError(f"Node '{node}' not known", ECODE_NOENT)
    row = rows[0]
    return str(row[0]), sorted({name for value in row[1:] for name in (value or [])})


def _wait_for_jobs(args: argparse.Namespace, result: Any) -> int:
    """Follow the jobs the node opcode submitted (Ganeti's JobExecutor); the number that
    failed."""
    jex = JobExecutor(common.get_client(), priority_of(args), verbose=True)
    for submitted, job_id in (result or {}).get("jobs") or []:
        jex.add_job_id(None, submitted, job_id)
    return sum(1 for ok, _result in jex.get_results() if not ok)


def migrate_node(args: argparse.Namespace) -> int:
    """``gnt-node migrate``: live-migrate the primary instances off a node, one job each."""
    node, pinst = _node_instances(args.node, ["pinst_list"])
    if not pinst:
        stdout(f"No primary instances on node {node}, exiting.")
        return 0
    if not args.force and not confirm(f"Migrate instance(s) {', '.join(pinst)}?",
                                      "--force (-f)"):
        return EXIT_CONFIRMATION
    op = make_op("OP_NODE_MIGRATE", args, node_name=args.node, mode=_mode(args),
                 target_node=args.dst_node, iallocator=args.iallocator,
                 allow_runtime_changes=not args.no_runtime_changes,
                 ignore_ipolicy=args.ignore_ipolicy)
    bad = _wait_for_jobs(args, submit_or_send(op, args))
    if bad:
        stdout(f"There were {bad} errors during the node migration.")
        return 1
    stdout("All instances migrated successfully.")
    return 0


def evacuate_node(args: argparse.Namespace) -> int:
    """``gnt-node evacuate``: move the instances off a node, one job each."""
    mode = "primary-only" if args.primary_only else (
        "secondary-only" if args.secondary_only else "all")
    fields = [field for field, skip in (("pinst_list", args.secondary_only),
                                        ("sinst_list", args.primary_only)) if not skip]
    _node, instances = _node_instances(args.node, fields)
    if not instances:
        stderr(f"No instances to evacuate on node(s) {args.node}, exiting.")
        return 0
    if not args.force and not confirm(f"Relocate instance(s) {', '.join(instances)} from"
                                      f" node(s) {args.node}?", "--force (-f)"):
        return EXIT_CONFIRMATION
    op = make_op("OP_NODE_EVACUATE", args, node_name=args.node, mode=mode,
                 remote_node=args.dst_node, iallocator=args.iallocator,
                 early_release=args.early_release)
    bad = _wait_for_jobs(args, submit_or_send(op, args))
    if bad:
        stdout(f"There were {bad} errors during the evacuation.")
        return 1
    stdout("All instances evacuated successfully.")
    return 0


def _common(p: argparse.ArgumentParser, target: bool = True) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Do not ask for confirmation")
    if target:
        p.add_argument("-n", "--target-node", dest="dst_node", metavar="NODE",
                       help="Target node (shared-storage instances)")
        p.add_argument("-I", "--iallocator", metavar="NAME",
                       help="Instance allocator choosing the target (builtin, hail, path)")


def _migration_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--non-live", action="store_true", help="Pause the instance while it moves")
    p.add_argument("--migration-mode", choices=("live", "non-live"), default=None)
    p.add_argument("--no-runtime-changes", action="store_true",
                   help="Do not reduce the instance's memory when the target has less free")


def register_instance(subs: Any) -> None:
    """Add migrate/failover/move to the gnt-instance parser."""
    p = add_command(subs, "migrate", migrate_instance, "Migrate an instance to another node")
    p.add_argument("name", metavar="INSTANCE")
    _common(p)
    _migration_opts(p)
    p.add_argument("--cleanup", action="store_true",
                   help="Find where the instance runs after a failed migration; fix the config")
    p.add_argument("--allow-failover", action="store_true",
                   help="Fail over instead if the instance is not running")
    p.add_argument("--shutdown-timeout", type=int, default=120, metavar="SECONDS")
    p.add_argument("--ignore-ipolicy", action="store_true",
                   help="Ignore instance policy violations")
    add_submit_options(p)
    p = add_command(subs, "failover", failover_instance, "Fail an instance over to another node")
    p.add_argument("name", metavar="INSTANCE")
    _common(p)
    p.add_argument("--ignore-consistency", action="store_true",
                   help="Go on even if the primary node does not answer")
    p.add_argument("--shutdown-timeout", type=int, default=120, metavar="SECONDS")
    p.add_argument("--ignore-ipolicy", action="store_true",
                   help="Ignore instance policy violations")
    add_submit_options(p)
    p = add_command(subs, "move", move_instance, "Move an instance to another node")
    p.add_argument("name", metavar="INSTANCE")
    p.add_argument("-f", "--force", action="store_true", help="Do not ask for confirmation")
    p.add_argument("-n", "--target-node", dest="dst_node", metavar="NODE", required=True)
    p.add_argument("--ignore-consistency", action="store_true")
    p.add_argument("--shutdown-timeout", type=int, default=120, metavar="SECONDS")
    p.add_argument("--ignore-ipolicy", action="store_true",
                   help="Ignore instance policy violations")
    add_submit_options(p)


def register_node(subs: Any) -> None:
    """Add migrate/evacuate to the gnt-node parser."""
    p = add_command(subs, "migrate", migrate_node, "Migrate the running instances off a node")
    p.add_argument("node", metavar="NODE")
    _common(p)
    _migration_opts(p)
    p.add_argument("--ignore-ipolicy", action="store_true",    # Ganeti: migrate only
                   help="Ignore instance policy violations (passed to each migration)")
    add_submit_options(p)
    p = add_command(subs, "evacuate", evacuate_node, "Move the instances off a node")
    p.add_argument("node", metavar="NODE")
    _common(p)
    group = p.add_mutually_exclusive_group()
    group.add_argument("-p", "--primary-only", action="store_true")
    group.add_argument("-s", "--secondary-only", action="store_true")
    p.add_argument("--early-release", action="store_true")
    add_submit_options(p)
