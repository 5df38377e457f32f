"""gnt-cluster: cluster-wide commands (init, destroy, info, modify, verify, queue, tags)."""

from __future__ import annotations

import argparse
from typing import Any

from gnt import CONFIG_VERSION, EXPORT_VERSION, PROTOCOL_VERSION, __version__
from gnt.cli import cluster_crypto, cluster_disks, cluster_nodes, common
from gnt.cli._diskparams import add_diskparams_option, diskparams_from_args
from gnt.cli._output import (
    format_generic_info,
    format_grouped_params,
    format_ipolicy,
    format_time,
)
from gnt.cli._params import (
    add_ipolicy_options,
    be_params,
    hv_params,
    ident_keyval,
    ipolicy_from_args,
    keyval,
    nic_params,
    parse_int,
)
from gnt.cli.common import add_command, add_submit_options, make_op, stdout, submit_or_send
from gnt.opcodes import storage, verify_codes


def _split_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [item.strip() for item in text.split(",") if item.strip()]


def _hvparams(specs: list[str] | None) -> dict[str, dict[str, Any]] | None:
    """Repeated ``-H hv:key=val,...`` as ``{hv: {key: value}}`` (validated)."""
    if not specs:
        return None
    result: dict[str, dict[str, Any]] = {}
    for spec in specs:
        hv, values = ident_keyval(spec, "hypervisor parameters")
        result.setdefault(hv, {}).update(hv_params(hv, values, allow_default=True))
    return result


def _add_param_options(parser: argparse.ArgumentParser, init: bool = False) -> None:
    parser.add_argument("--enabled-hypervisors", default=None, metavar="HYPERVISORS",
                        help="Comma-separated list of hypervisors")
    parser.add_argument("--enabled-disk-templates", default=None, metavar="TEMPLATES",
                        help="Comma-separated list of disk templates")
    parser.add_argument("-H", "--hypervisor-parameters", dest="hvparams", action="append",
                        metavar="HV:KEY=VAL,...", help="Hypervisor parameters (repeatable)")
    parser.add_argument("-B", "--backend-parameters", dest="beparams", default=None,
                        metavar="KEY=VAL,...", help="Default backend parameters")
    parser.add_argument("-N", "--nic-parameters", dest="nicparams", default=None,
                        metavar="KEY=VAL,...", help="Default NIC parameters")
    parser.add_argument("--node-parameters", dest="ndparams", default=None,
                        metavar="KEY=VAL,...", help="Default node parameters (e.g."
                        " migration_uri=qemu+tcp://{address}/system, ssh_port=22)")
    add_diskparams_option(parser)
    parser.add_argument("-C", "--candidate-pool-size", default=None,
                        help="Set the candidate pool size")
    parser.add_argument("-m", "--mac-prefix", default=None,
                        help="Specify the mac prefix for the instance IP addresses")
    parser.add_argument("-I", "--default-iallocator", default=None, metavar="IALLOCATOR",
                        help="Default iallocator for the cluster")
    add_ipolicy_options(parser, split=init)   # Ganeti 3.0: --specs-* on init only


def init_cluster(args: argparse.Namespace) -> int:
    """``init NAME``: create a new cluster with this node as master."""
    from gnt.admin import bootstrap  # the bootstrap code is only needed here

    kwargs: dict[str, Any] = {"cluster_name": args.name, "feedback": print}
    given = {
        "master_netdev": args.master_netdev,
        "enabled_hypervisors": _split_list(args.enabled_hypervisors),
        "enabled_disk_templates": _split_list(args.enabled_disk_templates),
        "file_storage_dir": args.file_storage_dir,
        "shared_file_storage_dir": args.shared_file_storage_dir,
        "hvparams": _hvparams(args.hvparams),
        "beparams": be_params(keyval(args.beparams, "backend parameters"))
        if args.beparams else None,
        "nicparams": nic_params(keyval(args.nicparams, "NIC parameters"))
        if args.nicparams else None,
        "candidate_pool_size": parse_int(args.candidate_pool_size, "candidate pool size")
        if args.candidate_pool_size is not None else None,
        "mac_prefix": args.mac_prefix,
        "default_iallocator": args.default_iallocator,
        "ndparams": keyval(args.ndparams, "node parameters") if args.ndparams else None,
        "ipolicy": ipolicy_from_args(args, allow_default=False, init=True),
        "vg_name": args.vg_name,
        "drbd_helper": args.drbd_helper,
        "diskparams": diskparams_from_args(args.diskparams, allow_default=False),
    }
    kwargs.update({key: value for key, value in given.items() if value is not None})
    bootstrap.init_cluster(**kwargs)
    return 0


def destroy_cluster(args: argparse.Namespace) -> int:
    """``destroy --yes-do-it``: remove the cluster configuration (irreversible)."""
    if not args.yes_do_it:
        common.stderr("Destroying a cluster is irreversible. If you really want destroy this"
                      " cluster, supply the --yes-do-it option.")
        return 1
    from gnt.admin import bootstrap

    bootstrap.destroy_cluster(feedback=print)
    return 0


def _vcs_version() -> str:
    """``git describe`` of the source tree this code runs from, ``(unknown)`` if none."""
    import subprocess
    from pathlib import Path

    top = Path(__file__).resolve().parents[3]
    if not (top / ".git").exists():
        return "(unknown)"
    try:
        proc = subprocess.run(["git", "-C", str(top), "describe", "--always", "--dirty", "--tags"],
                              capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "(unknown)"
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else "(unknown)"


def _os_api_version() -> int:
    from gnt.core.collection import load_module_util

    return int(max(load_module_util("os_interface").SUPPORTED_API_VERSIONS))


def show_version(args: argparse.Namespace) -> int:
    """``version``: Ganeti's six version lines, asked from the master daemon (values it does
    not report, or all when no master daemon runs here, come from this installation)."""
    from gnt.core.errors import MasterNotRunning

    try:
        info = common.get_client().call("cluster_info") or {}
    except MasterNotRunning:
        info = {}
    lines = (("Software version", "software_version", lambda: __version__),
             ("Internode protocol", "protocol_version", lambda: PROTOCOL_VERSION),
             ("Configuration format", "config_version", lambda: CONFIG_VERSION),
             ("OS api version", "os_api_version", _os_api_version),
             ("Export interface", "export_version", lambda: EXPORT_VERSION),
             ("VCS version", "vcs_version", _vcs_version))
    for title, key, local in lines:
        value = info.get(key)
        stdout(f"{title}: {local() if value is None else value}")
    return 0


def _architecture(info: dict[str, Any]) -> str:
    arch = info.get("architecture")
    if isinstance(arch, (list, tuple)) and len(arch) == 2:
        return f"{arch[0]} ({arch[1]})"
    if arch:
        return str(arch)
    import platform

    return f"{platform.architecture()[0]} ({platform.machine()})"


def _grouped(params: Any) -> Any:
    """Cluster-level be/nic parameters, grouped under ``default`` as Ganeti shows them."""
    if isinstance(params, dict) and params and not all(isinstance(v, dict)
                                                       for v in params.values()):
        params = {"default": params}
    return format_grouped_params(params or {})


def format_cluster_info(info: dict[str, Any]) -> str:
    """``gnt-cluster info`` text for a ``cluster_info`` answer."""
    tags = info.get("tags") or []
    enabled_hv = list(info.get("enabled_hypervisors") or [])
    hvparams = {hv: p for hv, p in (info.get("hvparams") or {}).items()
                if not enabled_hv or hv in enabled_hv}
    default_hv = info.get("default_hypervisor") or (enabled_hv[0] if enabled_hv else None)

    def opt(key: str, default: Any = None) -> Any:
        value = info.get(key, default)
        return "(none)" if value in (None, "") else value

    cluster_params = [
        ("candidate pool size", opt("candidate_pool_size")),
        ("maximal number of jobs running simultaneously", opt("max_running_jobs")),
        ("mac prefix", opt("mac_prefix")),
        ("master netdev", opt("master_netdev")),
        ("lvm volume group", opt("volume_group_name")),
        ("lvm reserved volumes", ", ".join(info.get("reserved_lvs") or []) or "(none)"),
        ("drbd usermode helper", opt("drbd_usermode_helper")),
        ("file storage path", opt("file_storage_dir")),
        ("shared file storage path", opt("shared_file_storage_dir")),
        ("maintenance of node health", opt("maintain_node_health", False)),
        ("default instance allocator", opt("default_iallocator")),
        ("OS search path", ", ".join(info.get("os_search_path") or []) or "(none)"),
        ("enabled disk templates", ", ".join(info.get("enabled_disk_templates") or [])),
    ]
    data: list[tuple[str, Any]] = [
        ("Cluster name", info.get("name") or info.get("cluster_name")),
        ("Cluster UUID", info.get("uuid")),
        ("Creation time", format_time(info.get("ctime"))),
        ("Modification time", format_time(info.get("mtime"))),
        ("Master node", info.get("master") or info.get("master_node")),
        ("Architecture (this node)", _architecture(info)),
        ("Tags", ", ".join(sorted(tags)) if tags else "(none)"),
        ("Default hypervisor", default_hv),
        ("Enabled hypervisors", ", ".join(enabled_hv)),
        ("Hypervisor parameters", format_grouped_params(hvparams)),
        ("OS parameters", format_grouped_params(info.get("osparams") or {})),
        ("Cluster parameters", cluster_params),
        ("Default node parameters", format_grouped_params(info.get("ndparams") or {})),
        ("Default instance parameters", _grouped(info.get("beparams"))),
        ("Default nic parameters", _grouped(info.get("nicparams"))),
    ]
    if "diskparams" in info:  # always in a cluster_info answer (per template, as Ganeti's)
        data.append(("Default disk parameters", format_grouped_params(info["diskparams"])))
    if info.get("ipolicy"):
        data.append(("Instance policy - limits for instances", format_ipolicy(info["ipolicy"])))
    return format_generic_info(data)


def show_info(args: argparse.Namespace) -> int:
    """``info``: the cluster's configuration."""
    stdout(format_cluster_info(common.get_client().call("cluster_info")))
    return 0


def verify_cluster(args: argparse.Namespace) -> int:
    """``verify``: check the configuration and the nodes; exit 1 when errors were found
    (errors of the ``--ignore-errors`` codes are warnings and do not count)."""
    skip = []
    if args.skip_nplusone_mem:
        skip.append(verify_codes.VERIFY_NPLUSONE_MEM)
    if args.skip_hvparam_assessment:
        skip.append(verify_codes.VERIFY_HVPARAM_ASSESSMENT)
    op = make_op("OP_CLUSTER_VERIFY", args, skip_checks=skip, error_codes=args.error_codes,
                 verbose=args.verbose, ignore_errors=list(args.ignore_errors),
                 group_name=args.nodegroup, debug_simulate_errors=args.simulate_errors,
                 verify_clutter=args.verify_clutter)
    result = submit_or_send(op, args)
    if isinstance(result, dict):
        ok = bool(result.get("ok", True))
    else:
        ok = result is None or bool(result)
    return 0 if ok else 1


def modify_cluster(args: argparse.Namespace) -> int:
    """``modify``: change cluster-level parameters."""
    params: dict[str, Any] = {
        "hvparams": _hvparams(args.hvparams),
        "beparams": be_params(keyval(args.beparams, "backend parameters"),
                              allow_default=True) if args.beparams else None,
        "nicparams": nic_params(keyval(args.nicparams, "NIC parameters"),
                                allow_default=True) if args.nicparams else None,
        "ndparams": keyval(args.ndparams, "node parameters") if args.ndparams else None,
        "candidate_pool_size": parse_int(args.candidate_pool_size, "candidate pool size")
        if args.candidate_pool_size is not None else None,
        "enabled_hypervisors": _split_list(args.enabled_hypervisors),
        "enabled_disk_templates": _split_list(args.enabled_disk_templates),
        "default_iallocator": args.default_iallocator,
        "mac_prefix": args.mac_prefix,
        "maintain_node_health": {"yes": True, "no": False}.get(args.maintain_node_health or ""),
        "ipolicy": ipolicy_from_args(args, allow_default=False),
        "vg_name": args.vg_name,
        "drbd_helper": args.drbd_helper,
        "reserved_lvs": storage.parse_reserved_lvs(args.reserved_lvs)
        if args.reserved_lvs is not None else None,
        "diskparams": diskparams_from_args(args.diskparams),
    }
    if all(value is None for value in params.values()):
        common.stderr("Please give at least one of the parameters.")
        return 1
    submit_or_send(make_op("OP_CLUSTER_SET_PARAMS", args, **params), args)
    return 0


def queue_ops(args: argparse.Namespace) -> int:
    """``queue drain|undrain|info``."""
    client = common.get_client()
    if args.queue_command in ("drain", "undrain"):
        client.call("set_drain_flag", drained=args.queue_command == "drain")
        info = client.call("query_queue_info") or {}
        unsynced = info.get("unsynced") if isinstance(info, dict) else None
        for name, reason in sorted((unsynced or {}).items()):
            common.stderr(f"WARNING: master candidate {name} did not get the drain flag"
                          f" ({reason}); it would not have it as the new master")
    else:
        info = client.call("query_queue_info") or {}
        drained = info.get("drained") if isinstance(info, dict) else bool(info)
        stdout("The drain flag is " + ("set" if drained else "unset"))
    return 0


def _add_storage_options(parser: argparse.ArgumentParser) -> None:
    """``--vg-name`` and ``--drbd-usermode-helper`` (init and modify)."""
    parser.add_argument("--vg-name", default=None, metavar="VG",
                        help="Volume group name for LVM storage (default xenvg when plain or"
                             " drbd is enabled; empty to disable LVM)")
    parser.add_argument("--drbd-usermode-helper", dest="drbd_helper", default=None,
                        metavar="HELPER", help="The DRBD usermode helper the kernel uses"
                        " (default /bin/true when drbd is enabled)")


def build_parser() -> argparse.ArgumentParser:
    """The gnt-cluster argument parser."""
    parser, subs = common.new_parser("gnt-cluster", "Cluster administration")

    p = add_command(subs, "init", init_cluster, "Initialises a new cluster configuration")
    p.add_argument("name", metavar="CLUSTER_NAME")
    p.add_argument("--master-netdev", default=None, metavar="NETDEV",
                   help="Network device for the master IP address")
    p.add_argument("--file-storage-dir", default=None, metavar="DIR",
                   help="Directory for file-based instance disks")
    p.add_argument("--shared-file-storage-dir", default=None, metavar="DIR",
                   help="Directory for shared-file instance disks")
    _add_param_options(p, init=True)
    p.add_argument("--no-etc-hosts", dest="modify_etc_hosts", action="store_false",
                   help="Don't modify /etc/hosts")
    p.add_argument("--no-ssh-init", dest="modify_ssh_setup", action="store_false",
                   help="Don't initialize SSH keys")
    p.add_argument("-s", "--secondary-ip", default=None, metavar="ADDRESS",
                   help="Secondary (replication) IP address of this node")
    _add_storage_options(p)
    p.add_argument("--maintain-node-health", choices=("yes", "no"), default=None,
                   help="Enable automatic node maintenance")

    p = add_command(subs, "destroy", destroy_cluster, "Destroy the cluster")
    p.add_argument("--yes-do-it", action="store_true",
                   help="Destroy the cluster (needed to confirm the operation)")

    add_command(subs, "version", show_version, "Show the software version")
    p = add_command(subs, "info", show_info, "Show cluster configuration", aliases=["show"])
    p.add_argument("--roman", action="store_true", help=argparse.SUPPRESS)

    p = add_command(subs, "verify", verify_cluster, "Verify the cluster")
    p.add_argument("--error-codes", action="store_true",
                   help="Report each finding in the parseable form"
                        " TYPE:CODE:ITEM-KIND:ITEM:MESSAGE")
    p.add_argument("-I", "--ignore-errors", action="append", default=[], metavar="CODE",
                   choices=verify_codes.CODE_NAMES,
                   help="Report the errors of this code (e.g. ENODEORPHANLV) as warnings that"
                        " do not fail the verify; repeat for more codes")
    p.add_argument("-v", "--verbose", action="store_true", help="Verbose output")
    p.add_argument("--no-nplus1-mem", dest="skip_nplusone_mem", action="store_true",
                   help="Skip the N+1 memory redundancy check")
    p.add_argument("--no-hv-param-assessment", dest="skip_hvparam_assessment",
                   action="store_true", help="Skip the hypervisor parameter assessment")
    p.add_argument("-g", "--node-group", dest="nodegroup", default=None, metavar="GROUP",
                   help="Verify only this node group's nodes and instances (name or UUID)")
    p.add_argument("--verify-ssh-clutter", dest="verify_clutter", action="store_true",
                   help="Report cluster nodes' users with more than one key in root's"
                        " authorized_keys on a node")
    p.add_argument("--debug-simulate-errors", dest="simulate_errors", action="store_true",
                   help="Debugging option: report every check as failed")
    add_submit_options(p)

    p = add_command(subs, "modify", modify_cluster, "Alter the cluster parameters")
    _add_param_options(p)
    _add_storage_options(p)
    p.add_argument("--reserved-lvs", default=None, metavar="NAMES",
                   help="Comma-separated list of reserved logical volume names (regular"
                        " expressions) that cluster verify ignores; empty to clear")
    p.add_argument("--maintain-node-health", choices=("yes", "no"), default=None,
                   help="Enable automatic node maintenance")
    add_submit_options(p)

    cluster_nodes.register(subs)
    cluster_crypto.register(subs)
    cluster_disks.register(subs)
    p = add_command(subs, "queue", queue_ops, "Change or show the job queue's drain flag")
    p.add_argument("queue_command", choices=("drain", "undrain", "info"))

    common.add_tag_commands(subs, "cluster", None)
    return parser


main = common.main_for(build_parser)
