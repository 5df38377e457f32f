"""Synthetic clusters (a ``config.data`` shape plus live node data) for tests and benchmarks.

Nothing here touches a real node: it builds the dictionaries :func:`build_request` reads, and
updates the simulated live data after a placement, as a real node's would change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gnt.iallocator.request import disk_space_total
from gnt.opcodes import params


def _uuid(kind: str, index: int) -> str:
    return f"{kind}-{index:04d}-0000-0000-000000000000"


def new_config(cluster_name: str = "cluster.example.com",
               templates: Sequence[str] = (params.DT_FILE, params.DT_SHARED_FILE,
                                           params.DT_DISKLESS, params.DT_PLAIN,
                                           params.DT_DRBD8)) -> dict[str, Any]:
    """An empty cluster with one node group ``default`` and no nodes."""
    group = {"uuid": _uuid("group", 0), "name": "default", "ndparams": {}, "tags": [],
             "serial_no": 1, "ctime": 0.0, "mtime": 0.0}
    cluster = {"uuid": _uuid("cluster", 0), "cluster_name": cluster_name, "master_node": "",
               "enabled_hypervisors": [params.HT_KVM],
               "enabled_disk_templates": list(templates), "hvparams": {}, "beparams": {},
               "nicparams": {}, "ndparams": {}, "osparams": {}, "tags": [],
               "serial_no": 1, "ctime": 0.0, "mtime": 0.0}
    return {"version": 1, "serial_no": 1, "ctime": 0.0, "mtime": 0.0, "cluster": cluster,
            "nodes": {}, "nodegroups": {group["uuid"]: group}, "instances": {}, "disks": {},
            "networks": {}}


def add_group(config: dict[str, Any], name: str,
              alloc_policy: str = "preferred") -> str:
    """Add a node group; returns its uuid."""
    uuid = _uuid("group", len(config["nodegroups"]))
    config["nodegroups"][uuid] = {"uuid": uuid, "name": name, "ndparams": {}, "tags": [],
                                  "alloc_policy": alloc_policy, "serial_no": 1, "ctime": 0.0,
                                  "mtime": 0.0}
    return uuid


def group_uuid(config: Mapping[str, Any], name: str) -> str:
    """The uuid of the node group called ``name``."""
    return next(u for u, g in config["nodegroups"].items() if g["name"] == name)


def add_node(config: dict[str, Any], live: dict[str, Any], name: str, memory: int = 8192,
             disk: int = 102400, cpus: int = 4, group: str = "default", offline: bool = False,
             drained: bool = False, vm_capable: bool = True,
             reachable: bool = True) -> str:
    """Add a node with ``memory``/``disk`` MiB (all free) and ``cpus``; returns its uuid."""
    index = len(config["nodes"]) + 1
    uuid = _uuid("node", index)
    config["nodes"][uuid] = {
        "uuid": uuid, "name": name, "primary_ip": f"198.18.0.{index}",
        "secondary_ip": f"198.18.0.{index}", "master_candidate": index == 1,
        "offline": offline, "drained": drained, "master_capable": True,
        "vm_capable": vm_capable, "group": group_uuid(config, group), "ndparams": {},
        "tags": [], "serial_no": 1, "ctime": 0.0, "mtime": 0.0}
    if not config["cluster"]["master_node"]:
        config["cluster"]["master_node"] = uuid
    live[name] = None if (offline or not reachable) else {
        "total_memory": memory, "free_memory": memory, "reserved_memory": 0,
        "total_disk": disk, "free_disk": disk, "total_cpus": cpus}
    return uuid


def node_uuid(config: Mapping[str, Any], name: str) -> str:
    """The uuid of the node called ``name``."""
    return next(u for u, n in config["nodes"].items() if n["name"] == name)


def add_instance(config: dict[str, Any], live: dict[str, Any], name: str,
                 nodes: Sequence[str], memory: int = 512, disks: Sequence[int] = (1024,),
                 template: str = params.DT_FILE, vcpus: int | None = None,
                 admin_state: str = "up") -> str:
    """Place an instance on ``nodes`` (names; primary first) and take its memory (if up)
    and disk space (local templates) from those nodes' live data; returns its uuid."""
    index = len(config["instances"]) + 1
    uuid = _uuid("inst", index)
    disk_uuids = []
    for idx, size in enumerate(disks):
        disk_id = _uuid(f"disk{idx}", index)
        config["disks"][disk_id] = {"uuid": disk_id, "dev_type": template,
                                    "logical_id": ["loop", f"/srv/{name}/{idx}"], "size": size,
                                    "mode": "rw", "iv_name": f"disk/{idx}", "serial_no": 1,
                                    "ctime": 0.0, "mtime": 0.0}
        disk_uuids.append(disk_id)
    config["instances"][uuid] = {
        "uuid": uuid, "name": name, "primary_node": node_uuid(config, nodes[0]),
        "os": "noop", "hypervisor": params.HT_KVM, "hvparams": {},
        "beparams": {"maxmem": memory, "minmem": memory,
                     **({"vcpus": vcpus} if vcpus is not None else {})},
        "osparams": {}, "admin_state": admin_state, "disks_active": admin_state == "up",
        "disk_template": template, "disks": disk_uuids,
        "nics": [{"uuid": _uuid("nic", index), "mac": f"aa:00:00:00:{index // 256:02x}:"
                  f"{index % 256:02x}", "nicparams": {}}],
        "tags": [], "serial_no": 1, "ctime": 0.0, "mtime": 0.0}
    if len(nodes) > 1:
        config["instances"][uuid]["secondary_nodes"] = [node_uuid(config, n) for n in nodes[1:]]
    take(live, nodes, memory if admin_state == "up" else 0,
         disk_space_total(template, list(disks)), template)
    return uuid


def take(live: dict[str, Any], nodes: Sequence[str], memory: int, disk: int,
         template: str) -> None:
    """Account a new placement in the simulated live data: memory on the primary, disk on
    every node for local templates (file, plain, drbd)."""
    local = template in (params.DT_FILE, params.DT_PLAIN, params.DT_DRBD8)
    for idx, name in enumerate(nodes):
        data = live.get(name)
        if data is None:
            continue
        if idx == 0:
            data["free_memory"] -= memory
        if local:
            data["free_disk"] -= disk


def cluster(n_nodes: int, memory: int = 65536, disk: int = 2 * 1024 * 1024, cpus: int = 16,
            prefix: str = "node") -> tuple[dict[str, Any], dict[str, Any]]:
    """A cluster of ``n_nodes`` equal nodes named ``node01``..; returns (config, live)."""
    config = new_config()
    live: dict[str, Any] = {}
    for idx in range(1, n_nodes + 1):
        add_node(config, live, f"{prefix}{idx:02d}", memory=memory, disk=disk, cpus=cpus)
    return config, live
