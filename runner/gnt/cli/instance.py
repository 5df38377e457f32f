"""gnt-instance: instance commands (add, remove, startup, shutdown, reboot, list, info,
console, modify, rename, reinstall, tags)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from gnt.cli import common, instance_disks, instance_move
from gnt.cli._create_options import add_creation_options, creation_fields
from gnt.cli._instance_info import do_console, format_instances_info
from gnt.cli._params import (
    be_params,
    hv_params,
    keyval,
    parse_disk_mods,
    parse_nic_mods,
    parse_size,
)
from gnt.cli.common import (
    JobExecutor,
    JobSubmitted,
    add_command,
    add_list_options,
    add_submit_options,
    confirm,
    make_op,
    priority_of,
    stdout,
    submit_job,
    submit_or_send,
)
from gnt.core.errors import ECODE_INVAL, OpPrereqError

LIST_DEFAULT_FIELDS = ("name", "hypervisor", "os", "pnode", "status", "oper_ram")

# Selection modes of the multi-instance commands (startup, shutdown, reboot).
MODE_INSTANCES = "instances"
MODE_CLUSTER = "cluster"
MODE_NODES_BOTH = "nodes"
MODE_NODES_PRI = "nodes-pri"
MODE_NODES_SEC = "nodes-sec"


def _instance_hvparams(values: dict[str, str], allow_default: bool = False) -> dict:
    """``-H key=val`` for an existing instance: validated when the hypervisor is known."""
    from gnt.opcodes.params import HYPERVISORS

    if len(HYPERVISORS) == 1:
        return hv_params(HYPERVISORS[0], values, allow_default=allow_default)
    return dict(values)


# --- add ----------------------------------------------------------------------------------

def add_instance(args: argparse.Namespace) -> int:
    """``add``: create an instance (OP_INSTANCE_CREATE)."""
    op = make_op(
        "OP_INSTANCE_CREATE", args, instance_name=args.name, mode="create",
        os_type=args.os, no_install=args.no_install,
        force_variant=args.force_variant or None,
        opportunistic_locking=args.opportunistic_locking, **creation_fields(args))
    submit_or_send(op, args, name=args.name)
    return 0


# --- multi-instance operations ------------------------------------------------------------

def expand_names(mode: str, names: list[str]) -> list[str]:
    """The instances a selection (``--all``, ``--node`` ..., or names) stands for."""
    client = common.get_client()
    if mode == MODE_CLUSTER:
        if names:
            raise OpPrereqError("Cluster filter mode takes no arguments", ECODE_INVAL)
        result = client.call("query", what="instance", fields=["name"], names=[])
        return [row[0] for row in result.get("data") or []]
    if mode in (MODE_NODES_BOTH, MODE_NODES_PRI, MODE_NODES_SEC):
        if not names:
            raise OpPrereqError("No node names passed", ECODE_INVAL)
        result = client.call("query", what="node", fields=["name", "pinst_list", "sinst_list"],
                             names=names)
        rows = result.get("data") or []
        primary = [name for row in rows for name in row[1] or []]
        secondary = [name for row in rows for name in row[2] or []]
        if mode == MODE_NODES_PRI:
            return primary
        if mode == MODE_NODES_SEC:
            return secondary
        return primary + secondary
    if not names:
        raise OpPrereqError("No instance names passed", ECODE_INVAL)
    result = client.call("query", what="instance", fields=["name"], names=names)
    return [row[0] for row in result.get("data") or []]


def _add_multi_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--all", dest="multi_mode", action="store_const", const=MODE_CLUSTER,
                       help="Act on all instances of the cluster")
    group.add_argument("--node", dest="multi_mode", action="store_const",
                       const=MODE_NODES_BOTH,
                       help="Arguments are nodes: act on their primary and secondary instances")
    group.add_argument("--primary", dest="multi_mode", action="store_const",
                       const=MODE_NODES_PRI,
                       help="Arguments are nodes: act on their primary instances")
    group.add_argument("--secondary", dest="multi_mode", action="store_const",
                       const=MODE_NODES_SEC,
                       help="Arguments are nodes: act on their secondary instances")
    group.add_argument("--instance", dest="multi_mode", action="store_const",
                       const=MODE_INSTANCES, help="Arguments are instances (the default)")
    parser.add_argument("--force-multiple", dest="force_multi", action="store_true",
                        help="Do not ask for confirmation when more than one instance is"
                        " affected")
    add_submit_options(parser)


def many_ops(operation: str, build: Callable[[str, argparse.Namespace], dict]
             ) -> Callable[[argparse.Namespace], int]:
    """A multi-instance command: one job per selected instance (Ganeti's GenericManyOps)."""
    def handler(args: argparse.Namespace) -> int:
        mode = args.multi_mode or MODE_INSTANCES
        names = expand_names(mode, list(args.names))
        if not names:
            if mode == MODE_CLUSTER:
                stdout(f"Cluster is empty, no instances to {operation}")
                return 0
            raise OpPrereqError("Selection filter does not match any instances", ECODE_INVAL)
        multi = mode != MODE_INSTANCES or len(names) > 1
        if multi and not args.force_multi:
            affected = "\n".join(f"  {name}" for name in names)
            question = (f"The {operation} will operate on {len(names)} instances.\n"
                        f"Do you want to continue?\nAffected instances:\n{affected}")
            if not confirm(question, "--force-multiple"):
                return 1
        ops = [(name, build(name, args)) for name in names]
        client = common.get_client()
        if args.submit_only and not multi:
            raise JobSubmitted(submit_job(client, [ops[0][1]], priority_of(args), ops[0][0]))
        executor = JobExecutor(client, priority_of(args), verbose=multi)
        for name, op in ops:
            executor.queue_job(name, op)
        results = executor.show_submitted() if args.submit_only else executor.get_results()
        return 0 if all(ok for ok, _unused in results) else 1
    return handler


def _startup_op(name: str, args: argparse.Namespace) -> dict:
    return make_op(
        "OP_INSTANCE_STARTUP", args, instance_name=name, force=args.force,
        ignore_offline_nodes=args.ignore_offline, no_remember=args.no_remember,
        startup_paused=args.startup_paused,
        hvparams=_instance_hvparams(keyval(args.hvparams, "hypervisor parameters"))
        if args.hvparams else None,
        beparams=be_params(keyval(args.beparams, "backend parameters"))
        if args.beparams else None)


def _shutdown_op(name: str, args: argparse.Namespace) -> dict:
    return make_op("OP_INSTANCE_SHUTDOWN", args, instance_name=name, timeout=args.timeout,
                   force=args.force, ignore_offline_nodes=args.ignore_offline,
                   no_remember=args.no_remember)


def _reboot_op(name: str, args: argparse.Namespace) -> dict:
    return make_op("OP_INSTANCE_REBOOT", args, instance_name=name, reboot_type=args.reboot_type,
                   shutdown_timeout=args.shutdown_timeout,
                   ignore_secondaries=args.ignore_secondaries)


# --- single-instance operations -----------------------------------------------------------

def _ensure_exists(name: str) -> None:
    common.get_client().call("query", what="instance", fields=["name"], names=[name])


def remove_instance(args: argparse.Namespace) -> int:
    """``remove``: delete an instance and its disks (asks unless ``--force``)."""
    if not args.force:
        _ensure_exists(args.name)
        question = (f"This will remove the volumes of the instance {args.name} (including"
                    " mirrors), thus removing all the data of the instance. Continue?")
        if not confirm(question, "--force (-f)"):
            return 1
    op = make_op("OP_INSTANCE_REMOVE", args, instance_name=args.name,
                 ignore_failures=args.ignore_failures, shutdown_timeout=args.shutdown_timeout)
    submit_or_send(op, args, name=args.name)
    return 0


def reinstall_instance(args: argparse.Namespace) -> int:
    """``reinstall``: run the OS create scripts again (asks unless ``--force``)."""
    _ensure_exists(args.name)
    if not args.force:
        what = f"change the OS to '{args.os}'" if args.os else "keep the same OS"
        question = (f"This will reinstall the instance '{args.name}' (and {what}) which"
                    " removes all data. Continue?")
        if not confirm(question, "--force (-f)"):
            return 1
    op = make_op("OP_INSTANCE_REINSTALL", args, instance_name=args.name, os_type=args.os,
                 force_variant=args.force_variant or None,
                 osparams=keyval(args.osparams, "OS parameters") if args.osparams else None)
    if args.submit_only:
        submit_or_send(op, args, name=args.name)
    executor = JobExecutor(common.get_client(), priority_of(args))
    executor.queue_job(args.name, op)
    return 0 if all(ok for ok, _unused in executor.get_results()) else 1


def rename_instance(args: argparse.Namespace) -> int:
    """``rename``: change an instance's name. As Ganeti 3.0's command (not its opcode), the
    new name's IP is checked unless ``--no-ip-check``."""
    op = make_op("OP_INSTANCE_RENAME", args, instance_name=args.name, new_name=args.new_name,
                 ip_check=not (args.no_ip_check or args.no_name_check),
                 name_check=False if args.no_name_check else None)
    result = submit_or_send(op, args, name=args.name)
    if result:
        stdout(f"Instance '{args.name}' renamed to '{result}'")
    return 0


def modify_instance(args: argparse.Namespace) -> int:
    """``modify``: change instance parameters (OP_INSTANCE_SET_PARAMS)."""
    if args.offline and args.online:
        raise OpPrereqError("Can't use --offline and --online at the same time", ECODE_INVAL)
    if not (args.hvparams or args.beparams or args.osparams or args.os or args.offline
            or args.online or args.runtime_mem or args.disk_template or args.nics
            or args.disks):
        common.stderr("Please give at least one of the parameters.")
        return 1
    op = make_op(
        "OP_INSTANCE_SET_PARAMS", args, instance_name=args.name,
        hvparams=_instance_hvparams(keyval(args.hvparams, "hypervisor parameters"),
                                    allow_default=True) if args.hvparams else None,
        beparams=be_params(keyval(args.beparams, "backend parameters"), allow_default=True)
        if args.beparams else None,
        osparams=keyval(args.osparams, "OS parameters") if args.osparams else None,
        os_name=args.os, offline=True if args.offline else (False if args.online else None),
        runtime_mem=parse_size(args.runtime_mem, "runtime memory")
        if args.runtime_mem else None,
        force=args.force or None, force_variant=args.force_variant or None,
        disk_template=args.disk_template, remote_node=args.node,
        wait_for_sync=None if args.wait_for_sync else False,
        nics=parse_nic_mods(args.nics) if args.nics else None,
        ignore_ipolicy=args.ignore_ipolicy or None,
        disks=parse_disk_mods(args.disks) if args.disks else None,
        conflicts_check=None if args.conflicts_check else False,
        hotplug=args.hotplug or None,
        hotplug_if_possible=None if args.hotplug or not (args.nics or args.disks)
        or args.no_hotplug else True)
    result = submit_or_send(op, args, name=args.name)
    if result:
        stdout(f"Modified instance {args.name}")
        pairs = result.items() if isinstance(result, dict) else result
        for param, data in pairs:
            stdout(f" - {param:<5} -> {data}")
        stdout("Please don't forget that most parameters take effect only at the next"
               " (re)start of the instance initiated by gnt; restarting from within the"
               " instance will not be enough.")
    return 0


def list_instances(args: argparse.Namespace) -> int:
    """``list``: one table row per instance."""
    return common.list_query("instance", args, LIST_DEFAULT_FIELDS, args.names)


def show_info(args: argparse.Namespace) -> int:
    """``info``: detailed multi-line information (OP_INSTANCE_QUERY_DATA)."""
    if not args.names and not args.show_all:
        common.stderr("No instance selected. Please pass in --all if you want to query all"
                      " instances.\nNote that this can take a long time on a big cluster.")
        return 1
    if args.names and args.show_all:
        common.stderr("Cannot use --all if you specify instance names.")
        return 1
    op = make_op("OP_INSTANCE_QUERY_DATA", args, instances=list(args.names),
                 static=args.static, use_locking=not args.static)
    result = common.submit_op(op, args)
    if not result:
        stdout("No instances.")
        return 1
    stdout(format_instances_info(result, static=args.static))
    return 0


def _primary_target(client: Any, node_name: Any) -> Any:
    """How to reach an instance's primary node over SSH; ``None`` when it is the master
    (this node), whose console is attached to directly."""
    from gnt.admin.remote import Target

    if not node_name:
        return None
    result = client.call("query", what="node", fields=["master", "pip", "ndparams"],
                         names=[str(node_name)])
    rows = result.get("data") or []
    if not rows or rows[0][0] or not rows[0][1]:
        return None
    ndparams = rows[0][2] if isinstance(rows[0][2], dict) else {}
    return Target(name=str(node_name), address=str(rows[0][1]),
                  port=int(ndparams.get("ssh_port") or 22))


def console(args: argparse.Namespace) -> int:
    """``console``: attach to (or print the log of) an instance's serial console, on its
    primary node (through SSH when that is not this node)."""
    client = common.get_client()
    result = client.call("query", what="instance", fields=["console", "oper_state", "pnode"],
                         names=[args.name])
    rows = result.get("data") or []
    if not rows:
        raise OpPrereqError(f"Instance '{args.name}' does not exist", "unknown_entity")
    console_data, oper_state, pnode = rows[0][0], rows[0][1], rows[0][2]
    if not oper_state:
        console_data = None  # as Ganeti: no console for an instance that is not running
    target = _primary_target(client, pnode) if console_data else None
    common.reset_client()  # do not keep the daemon connection open while attached
    return do_console(args.name, console_data, oper_state, args.show_cmd, target)


# --- parser -------------------------------------------------------------------------------

def _add_add_parser(subs: Any) -> None:
    p = add_command(subs, "add", add_instance, "Create and add a new instance to the cluster")
    p.add_argument("name", metavar="INSTANCE")
    p.add_argument("-o", "--os-type", dest="os", default=None, help="What OS to run")
    add_creation_options(p)
    p.add_argument("--no-install", action="store_true", help="Do not install the OS")
    p.add_argument("--force-variant", action="store_true", help="Force an unknown variant")
    p.add_argument("--opportunistic-locking", action="store_true",
                   help="Opportunistically acquire locks: the allocator chooses among the"
                   " nodes whose locks are free (for many creations at once)")
    add_submit_options(p)


def build_parser() -> argparse.ArgumentParser:
    """The gnt-instance argument parser."""
    parser, subs = common.new_parser("gnt-instance", "Instance administration")
    _add_add_parser(subs)
    instance_move.register_instance(subs)
    instance_disks.register_instance(subs)

    p = add_command(subs, "remove", remove_instance, "Shuts down the instance and removes it")
    p.add_argument("name", metavar="INSTANCE")
    p.add_argument("--ignore-failures", action="store_true",
                   help="Remove the instance from the cluster even if there are failures")
    p.add_argument("--shutdown-timeout", type=int, default=None, metavar="SECONDS",
                   help="Maximum time to wait for the instance to shut down")
    p.add_argument("-f", "--force", action="store_true", help="Do not ask for confirmation")
    add_submit_options(p)

    p = add_command(subs, "startup", many_ops("startup", _startup_op), "Starts an instance",
                    aliases=["start"])
    _add_multi_options(p)
    p.add_argument("-f", "--force", action="store_true", help="Force the operation")
    p.add_argument("-H", "--hypervisor-parameters", dest="hvparams", default=None,
                   metavar="KEY=VAL,...", help="Temporary hypervisor parameters")
    p.add_argument("-B", "--backend-parameters", dest="beparams", default=None,
                   metavar="KEY=VAL,...", help="Temporary backend parameters")
    p.add_argument("--no-remember", action="store_true",
                   help="Do not remember the state change")
    p.add_argument("--ignore-offline", action="store_true",
                   help="Ignore offline nodes and do as much as possible")
    p.add_argument("--paused", dest="startup_paused", action="store_true",
                   help="Pause the instance at startup")

    p = add_command(subs, "shutdown", many_ops("shutdown", _shutdown_op),
                    "Stops an instance", aliases=["stop"])
    _add_multi_options(p)
    p.add_argument("--timeout", type=int, default=None, metavar="SECONDS",
                   help="Maximum time to wait for a clean shutdown")
    p.add_argument("-f", "--force", action="store_true", help="Force the operation")
    p.add_argument("--no-remember", action="store_true",
                   help="Do not remember the state change")
    p.add_argument("--ignore-offline", action="store_true",
                   help="Ignore offline nodes and do as much as possible")

    p = add_command(subs, "reboot", many_ops("reboot", _reboot_op), "Reboots an instance")
    _add_multi_options(p)
    p.add_argument("-t", "--type", dest="reboot_type", default=None,
                   choices=("soft", "hard", "full"), help="Type of reboot (default: full)")
    p.add_argument("--shutdown-timeout", type=int, default=None, metavar="SECONDS",
                   help="Maximum time to wait for the instance to shut down")
    p.add_argument("--ignore-secondaries", action="store_true",
                   help="Ignore errors from secondaries")

    p = add_command(subs, "list", list_instances, "Lists the instances and their status")
    p.add_argument("names", nargs="*", metavar="INSTANCE")
    add_list_options(p, LIST_DEFAULT_FIELDS)

    p = add_command(subs, "info", show_info, "Show information on the specified instances")
    p.add_argument("names", nargs="*", metavar="INSTANCE")
    p.add_argument("-s", "--static", action="store_true",
                   help="Only show configuration data, not runtime data")
    p.add_argument("--all", dest="show_all", action="store_true",
                   help="Show info on all instances on the cluster")
    p.add_argument("--roman", action="store_true", help=argparse.SUPPRESS)
    common.add_priority_option(p)

    p = add_command(subs, "console", console, "Connect to the instance's console")
    p.add_argument("name", metavar="INSTANCE")
    p.add_argument("--show-cmd", action="store_true",
                   help="Show the command instead of executing it")

    p = add_command(subs, "modify", modify_instance, "Alters the parameters of an instance")
    p.add_argument("name", metavar="INSTANCE")
    p.add_argument("-H", "--hypervisor-parameters", dest="hvparams", default=None,
                   metavar="KEY=VAL,...", help="Hypervisor parameters")
    p.add_argument("-B", "--backend-parameters", dest="beparams", default=None,
                   metavar="KEY=VAL,...", help="Backend parameters")
    p.add_argument("-O", "--os-parameters", dest="osparams", default=None,
                   metavar="KEY=VAL,...", help="OS parameters")
    p.add_argument("-o", "--os-type", dest="os", default=None, help="Change the instance's OS")
    p.add_argument("--force-variant", action="store_true", help="Force an unknown variant")
    p.add_argument("--offline", action="store_true", help="Mark the instance as offline")
    p.add_argument("--online", action="store_true", help="Mark the instance as online")
    p.add_argument("-m", "--runtime-memory", dest="runtime_mem", default=None, metavar="SIZE",
                   help="Change the running instance's memory")
    p.add_argument("-f", "--force", action="store_true", help="Force the operation")
    p.add_argument("-t", "--disk-template", dest="disk_template", default=None,
                   choices=("plain", "drbd"), help="Convert the disks (stopped instance)")
    p.add_argument("-n", "--node", default=None, metavar="NODE",
                   help="The secondary node of a conversion to drbd")
    p.add_argument("--no-wait-for-sync", dest="wait_for_sync", action="store_false",
                   help="Do not wait for the new mirror to synchronise")
    p.add_argument("--net", dest="nics", action="append", default=[],
                   metavar="[ID:]add|remove|modify[,KEY=VAL...]",
                   help="Add, remove or change a NIC (mac, ip, mode, link, vlan, network,"
                        " name); ID is an index, -1, a NIC name or UUID")
    p.add_argument("--disk", dest="disks", action="append", default=[],
                   metavar="[ID:]add|remove|modify[,KEY=VAL...]",
                   help="Add (size, mode, name, vg, metavg; ext: provider and its"
                        " parameters), remove or change (mode, name) a disk; ID is an index,"
                        " -1, a disk name or UUID")
    p.add_argument("--ignore-ipolicy", action="store_true",
                   help="Ignore instance policy violations")
    p.add_argument("--no-conflicts-check", dest="conflicts_check", action="store_false",
                   help="Do not check for conflicting IPs")
    p.add_argument("--hotplug", action="store_true",
                   help="Hotplug the NIC/disk changes (refused: not supported yet)")
    p.add_argument("--hotplug-if-possible", action="store_true",
                   help="Hotplug the NIC/disk changes if possible (the default)")
    p.add_argument("--no-hotplug", action="store_true",
                   help="Do not hotplug: changes take effect at the next start")
    add_submit_options(p)

    p = add_command(subs, "rename", rename_instance, "Change the instance's name")
    p.add_argument("name", metavar="INSTANCE")
    p.add_argument("new_name", metavar="NEW_NAME")
    p.add_argument("--no-ip-check", action="store_true",
                   help="Don't check that the new IP is not in use")
    p.add_argument("--no-name-check", action="store_true",
                   help="Don't resolve the new name through the hosts file (implies --no-ip-check)")
    add_submit_options(p)

    p = add_command(subs, "reinstall", reinstall_instance, "Reinstall a stopped instance")
    p.add_argument("name", metavar="INSTANCE")
    p.add_argument("-o", "--os-type", dest="os", default=None, help="Install this OS")
    p.add_argument("-O", "--os-parameters", dest="osparams", default=None,
                   metavar="KEY=VAL,...", help="OS parameters")
    p.add_argument("-f", "--force", action="store_true", help="Do not ask for confirmation")
    p.add_argument("--force-variant", action="store_true", help="Force an unknown variant")
    add_submit_options(p)

    common.add_list_fields_command(subs, "instance")
    common.add_tag_commands(subs, "instance", "instance")
    return parser


main = common.main_for(build_parser)
