"""Cluster initialisation and destruction (``gnt-cluster init`` / ``destroy``).

Init runs on the future master without a daemon: it checks the arguments, writes the first
``config.data``, prepares this node through the ``node_prepare`` role and starts the master
daemon. Destroy (after the OP_CLUSTER_DESTROY job checked that nothing is left) stops the daemon
and removes everything init made.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gnt import CONFIG_VERSION
from gnt.config import drbdmap
from gnt.config.objects import empty_config
from gnt.config.store import ConfigStore
from gnt.core import certs, domainsecret, resolver, settings
from gnt.core.collection import load_module_util
from gnt.core.errors import ECODE_INVAL, ConfigError, GntError, OpExecError, OpPrereqError
from gnt.core.fileutil import ensure_dir
from gnt.daemon.control import start_daemon, stop_daemon
from gnt.nodes import bridges as bridges_mod
from gnt.nodes import knownhosts
from gnt.nodes.executor import AnsibleExecutor, Executor
from gnt.nodes.nodevars import node_vars
from gnt.nodes.prepare import prepare_node
from gnt.opcodes import params, storage

Feedback = Callable[[str], None]
DEFAULT_MAC_PREFIX = "aa:00:00"


def _created_bridges_file() -> Path:
    return settings.paths().data_dir / "created-bridges.json"


def _existing_bridges(names: list[str]) -> set[str]:
    return {name for name in names if Path(f"/sys/class/net/{name}").exists()}


# A UNIX socket path holds at most 107 bytes (sun_path is 108 with the final NUL).
MAX_SOCKET_PATH = 107


def check_root_length(paths: settings.Paths) -> None:
    """Refuse a GNT_ROOT so long that the master socket path does not fit a UNIX socket."""
    socket_path = os.fsencode(paths.master_socket)
    if len(socket_path) > MAX_SOCKET_PATH:
        raise OpPrereqError(
            f"GNT_ROOT '{paths.root}' is too long: the master socket path"
            f" '{paths.master_socket}' has {len(socket_path)} bytes, more than the"
            f" {MAX_SOCKET_PATH} a UNIX socket path can hold; use a GNT_ROOT of at most"
            f" {MAX_SOCKET_PATH - (len(socket_path) - len(os.fsencode(paths.root)))} bytes",
            ECODE_INVAL)


def _check_templates(templates: list[str]) -> list[str]:
    for template in templates:
        if template not in params.KNOWN_DISK_TEMPLATES:
            raise OpPrereqError(f"Unknown disk template '{template}' (known:"
                                f" {', '.join(params.KNOWN_DISK_TEMPLATES)})", ECODE_INVAL)
    if not templates:
        raise OpPrereqError("At least one disk template must be enabled", ECODE_INVAL)
    return templates


def build_config(cluster_name: str, master_ip: str, node_name: str, node_ip: str,
                 master_netdev: str, hypervisors: list[str], templates: list[str],
                 file_storage_dir: str, shared_file_storage_dir: str,
                 hvparams: dict[str, dict[str, Any]], beparams: dict[str, Any],
                 nicparams: dict[str, Any], candidate_pool_size: int,
                 mac_prefix: str, ndparams: dict[str, Any] | None = None,
                 default_iallocator: str = "",
                 ipolicy: dict[str, Any] | None = None, vg_name: str | None = None,
                 drbd_helper: str | None = None,
                 note: Feedback = print,
                 diskparams: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A validated first ``config.data`` for a one-node cluster (``note`` gets Ganeti's
    remarks about settings that have no effect)."""
    for hv in hypervisors:
        if hv not in params.HYPERVISORS:
            raise OpPrereqError(f"Unknown hypervisor '{hv}' (supported:"
                                f" {', '.join(params.HYPERVISORS)})", ECODE_INVAL)
    checked_hv = {hv: params.check_hvparams(hv, values) for hv, values in hvparams.items()}
    for hv in checked_hv:
        if hv not in hypervisors:
            raise OpPrereqError(f"Hypervisor parameters given for '{hv}', which is not"
                                " enabled", ECODE_INVAL)
    cluster = {
        "cluster_name": cluster_name, "master_ip": master_ip, "master_netdev": master_netdev,
        "enabled_hypervisors": hypervisors, "enabled_disk_templates": _check_templates(templates),
        "hvparams": checked_hv, "beparams": params.check_beparams(beparams),
        "nicparams": params.check_nicparams(nicparams),
        "ndparams": params.check_ndparams(ndparams or {}), "osparams": {},
        "tags": [], "candidate_pool_size": candidate_pool_size,
        "file_storage_dir": file_storage_dir, "shared_file_storage_dir": shared_file_storage_dir,
        "mac_prefix": params.check_mac_prefix(mac_prefix),
        "default_iallocator": default_iallocator,
        "maintain_node_health": False,
        "os_search_path": settings.paths().os_search_path,
        "ipolicy": params.check_ipolicy(ipolicy or {}),
        "volume_group_name": storage.init_vg_name(vg_name, templates, note),
        "drbd_usermode_helper": storage.init_drbd_helper(drbd_helper, templates, note),
        "reserved_lvs": [],
        "diskparams": params.merge_diskparams({}, params.check_diskparams(diskparams or {})),
        # DRBD ports (gnt.config.drbdmap): released ones, and the highest handed out so far
        "tcpudp_port_pool": [], "highest_used_port": drbdmap.FIRST_DRBD_PORT - 1,
    }
    params.check_ipolicy_templates(params.effective_ipolicy(cluster), templates)
    params.check_drbd_pacing(cluster)
    master = {"name": node_name, "primary_ip": node_ip, "secondary_ip": node_ip,
              "master_candidate": True, "offline": False, "drained": False,
              "master_capable": True, "vm_capable": True, "ndparams": {}, "tags": [],
              knownhosts.FIELD: []}
    group = {"name": "default", "ndparams": {}, "tags": []}
    return empty_config(cluster, master, group, CONFIG_VERSION)


def init_cluster(cluster_name: str, master_netdev: str = "", enabled_hypervisors: list[str]
                 | None = None, enabled_disk_templates: list[str] | None = None,
                 file_storage_dir: str | None = None, shared_file_storage_dir: str | None = None,
                 hvparams: dict[str, dict[str, Any]] | None = None,
                 beparams: dict[str, Any] | None = None, nicparams: dict[str, Any] | None = None,
                 candidate_pool_size: int = 10, mac_prefix: str = DEFAULT_MAC_PREFIX,
                 ndparams: dict[str, Any] | None = None, default_iallocator: str = "",
                 ipolicy: dict[str, Any] | None = None, vg_name: str | None = None,
                 drbd_helper: str | None = None, feedback: Feedback = print,
                 diskparams: dict[str, dict[str, Any]] | None = None,
                 executor: Executor | None = None,
                 start_master: bool = True, **_ignored: Any) -> ConfigStore:
    """Create a one-node cluster with this node as master and start the master daemon."""
    paths = settings.paths()
    check_root_length(paths)
    if paths.config_file.exists():
        raise OpPrereqError(f"Cluster is already initialised ({paths.config_file} exists)",
                            "wrong_state")
    if not resolver.valid_hostname(cluster_name):
        raise OpPrereqError(f"Invalid cluster name '{cluster_name}'", ECODE_INVAL)
    node_name = resolver.this_node_name()
    node_ip = resolver.this_node_address()
    master_ip = resolver.lookup(cluster_name)
    if master_ip is None:
        master_ip = node_ip
        feedback(f"Cluster name '{cluster_name}' does not resolve (hosts file only, no DNS);"
                 f" using this node's address {node_ip} as the cluster address")
    data = build_config(
        cluster_name, master_ip, node_name, node_ip, master_netdev or "",
        enabled_hypervisors or [params.HT_KVM],
        enabled_disk_templates or [params.DT_FILE, params.DT_SHARED_FILE, params.DT_DISKLESS],
        os.path.abspath(file_storage_dir or str(paths.file_storage_dir)),
        os.path.abspath(shared_file_storage_dir or str(paths.shared_file_storage_dir)),
        hvparams or {}, beparams or {}, nicparams or {}, candidate_pool_size, mac_prefix,
        ndparams, default_iallocator, ipolicy, vg_name, drbd_helper, feedback, diskparams)
    for directory in (paths.data_dir, paths.queue_dir, paths.run_dir, paths.log_dir):
        ensure_dir(directory)  # 0700 from creation (issue 10)
    _record_host_keys(data, feedback)
    store = ConfigStore.create(data, paths.config_file)
    knownhosts.write_local(store.data)
    feedback(f"Initialising cluster {cluster_name} with master node {node_name} ({node_ip})")
    bridges = node_vars(store, store.master_node())["bridges"]
    before = _existing_bridges(bridges)
    try:
        master = dict(store.master_node())
        facts = prepare_node(store, master, executor or AnsibleExecutor(), feedback)
        store.modify("nodes", master["uuid"],
                     lambda node: node.update(module_interpreter=master["module_interpreter"]))
    except GntError:
        _remove_state(feedback)
        raise
    created = sorted(_existing_bridges(bridges) - before)
    cid = bridges_mod.cluster_id(store.cluster()["uuid"])
    claimed = [name for name in bridges if bridges_mod.claim(name, cid, name in created)]
    _created_bridges_file().write_text(json.dumps({"cluster": cid, "created": created,
                                                   "claimed": claimed}))
    if facts:
        feedback(f"Node {node_name}: {facts.get('cpus', '?')} CPUs,"
                 f" {facts.get('memory_total_mib', '?')} MiB memory, default accelerator"
                 f" {facts.get('accel_default', '?')}")
    if not paths.rapi_cert.exists():
        # The remote API's key and self-signed certificate (0600), as Ganeti's init makes.
        certs.write_self_signed(paths.rapi_cert, cluster_name,
                                [master_ip, node_ip, "127.0.0.1", "localhost"])
    # The secret shared with the clusters instances move between (Ganeti's init makes one).
    domainsecret.ensure()
    if start_master:
        start_daemon()
        feedback("Master daemon started")
    return store


def _record_host_keys(data: dict[str, Any], feedback: Feedback) -> None:
    """Record the master's SSH host keys (as its sshd presents them) in its node object; the
    cluster's known_hosts file lists them for the nodes that reach it."""
    master = data["nodes"][data["cluster"]["master_node"]]
    port = int(params.filled_ndparams(data["cluster"], master).get("ssh_port", 22))
    keys = knownhosts.local_keys(master["primary_ip"], port)
    master[knownhosts.FIELD] = keys
    if keys:
        feedback(f"SSH host keys of {master['name']}: "
                 + ", ".join(knownhosts.fingerprint(key) for key in keys))
    else:
        feedback(f"WARNING: no SSH host key found for {master['name']} (its sshd at"
                 f" {master['primary_ip']}:{port} did not answer and"
                 f" {knownhosts.SYSTEM_HOST_KEYS} has none): other nodes cannot verify it")


def _remove_state(feedback: Feedback) -> None:
    paths = settings.paths()
    try:
        record = json.loads(_created_bridges_file().read_text())
    except (OSError, ValueError):
        record = []
    if isinstance(record, dict):
        # Bridges are shared between the clusters of this machine: drop this cluster from
        # each; a bridge goes only when no cluster is left on it (see gnt.nodes.bridges).
        for bridge in record.get("claimed", []):
            feedback(bridges_mod.release(bridge, str(record.get("cluster", ""))))
        record = []
    for bridge in record:  # recorded by an older init: made by this cluster, not marked
        ports = Path(f"/sys/class/net/{bridge}/brif")
        if ports.is_dir() and any(ports.iterdir()):
            feedback(f"Bridge {bridge} (made by init) still has ports attached: left in place")
            continue
        subprocess.run(["ip", "link", "del", bridge], check=False, capture_output=True)
        feedback(f"Removed bridge {bridge}")
    _remove_boot_unit(feedback)
    for directory in (paths.data_dir, paths.run_dir, paths.log_dir, paths.os_dir,
                      paths.ext_dir, paths.export_dir):
        shutil.rmtree(directory, ignore_errors=True)
    empty_dirs = [paths.file_storage_dir, paths.shared_file_storage_dir]
    if paths.root != Path("/"):
        # A private root: also remove the now-empty skeleton init made under it.
        empty_dirs += [paths.root / "srv/gnt", paths.root / "srv", paths.data_dir.parent,
                       paths.root / "var/log", paths.run_dir.parent, paths.root / "var"]
    for directory in empty_dirs:
        try:
            directory.rmdir()  # only if empty: never delete instance data here
        except OSError:
            pass


def _remove_boot_unit(feedback: Feedback) -> None:
    """Remove this node's boot unit of the cluster's bridges (node_prepare wrote it on a node
    booted by systemd; see module_utils/boot_bridges.py), so they are not made at boot any
    more."""
    boot = load_module_util("boot_bridges")
    if not boot.booted(boot.BOOTED_DIR):
        return
    scope = str(settings.paths().os_dir)
    try:
        removed = boot.remove(scope, boot.SYSTEMD_DIR)
    except boot.BootBridgesError as err:
        feedback(f"WARNING: {err}")
        return
    if removed:
        boot.daemon_reload()
        feedback(f"Removed the boot unit {boot.unit_name(scope)} of the cluster's bridges")


def _run_destroy_job() -> None:
    """Run OP_CLUSTER_DESTROY (its checks: no other node, no instance) and wait for it."""
    from gnt.client.connection import Client
    from gnt.client.jobwait import wait_for_job
    from gnt.core.errors import error_from_dict
    from gnt.core.jobstate import SUCCESS

    start_daemon()
    with Client() as client:
        job_id = client.call("submit_job", ops=[{"OP_ID": "OP_CLUSTER_DESTROY"}])
        wait_for_job(client, job_id)
        [(status, results)] = client.call("query_jobs", ids=[job_id],
                                          fields=["status", "opresult"])
    if status != SUCCESS:
        result = results[0] if results else None
        if isinstance(result, dict):
            raise error_from_dict(result)
        raise OpExecError(f"Cluster destroy job {job_id} ended with status {status}")


def destroy_cluster(feedback: Feedback = print) -> None:
    """Check (through the OP_CLUSTER_DESTROY job) that only the master is left and no
    instance exists, then stop the daemon and remove what init made."""

    paths = settings.paths()
    if not paths.config_file.exists():
        raise ConfigError(f"No cluster configuration at {paths.config_file}")
    _run_destroy_job()
    stop_daemon()
    _remove_state(feedback)
    feedback("Cluster destroyed")
