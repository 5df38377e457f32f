"""Build the JSON input of Ganeti's IAllocator protocol from our ``config.data`` and live data.

The input (protocol version 2) has the cluster-wide keys (``cluster_name``, ``cluster_tags``,
``enabled_hypervisors``, ``hypervisor_type``, ``ipolicy``), the ``nodegroups``, ``nodes`` and
``instances`` of the cluster, and a ``request`` describing the operation. The ``request_*``
helpers make that last part from simple arguments; :func:`build_request` assembles the rest.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from gnt.config.objects import disks_active
from gnt.core.errors import ECODE_INVAL, ECODE_NOENT, OpPrereqError
from gnt.opcodes import params

PROTOCOL_VERSION = 2

MODE_ALLOCATE = "allocate"
MODE_MULTI_ALLOCATE = "multi-allocate"
MODE_RELOCATE = "relocate"
MODE_NODE_EVACUATE = "node-evacuate"
MODE_CHANGE_GROUP = "change-group"
MODES = (MODE_ALLOCATE, MODE_MULTI_ALLOCATE, MODE_RELOCATE, MODE_NODE_EVACUATE, MODE_CHANGE_GROUP)

EVAC_PRIMARY = "primary-only"
EVAC_SECONDARY = "secondary-only"
EVAC_ALL = "all"
EVAC_MODES = (EVAC_PRIMARY, EVAC_SECONDARY, EVAC_ALL)

ALLOC_PREFERRED = "preferred"
ALLOC_LAST_RESORT = "last_resort"
ALLOC_UNALLOCABLE = "unallocable"
ALLOC_POLICIES = (ALLOC_PREFERRED, ALLOC_LAST_RESORT, ALLOC_UNALLOCABLE)

# Where an instance's disks live, as htools classifies templates.
MIRROR_NONE = "none"          # local to one node: file, plain (cannot fail over)
MIRROR_INTERNAL = "internal"  # replicated to a secondary node: drbd
MIRROR_EXTERNAL = "external"  # reachable from every node: sharedfile, diskless, rbd, ...
_MIRROR = {
    params.DT_FILE: MIRROR_NONE, params.DT_PLAIN: MIRROR_NONE,
    params.DT_DRBD8: MIRROR_INTERNAL,
    params.DT_SHARED_FILE: MIRROR_EXTERNAL, params.DT_DISKLESS: MIRROR_EXTERNAL,
    params.DT_EXT: MIRROR_EXTERNAL, "blockdev": MIRROR_EXTERNAL, "rbd": MIRROR_EXTERNAL,
    "gluster": MIRROR_EXTERNAL,
}
# Templates whose disks take space on the instance's own node(s).
LOCAL_STORAGE_TEMPLATES = (params.DT_FILE, params.DT_PLAIN, params.DT_DRBD8)
DRBD_META_MIB = 128  # DRBD metadata per disk, counted in disk_space_total as Ganeti does

DEFAULT_VCPU_RATIO: float = params.IPOLICY[params.IPOLICY_VCPU_RATIO][1]
LIVE_KEYS = ("total_memory", "free_memory", "reserved_memory", "total_disk", "free_disk",
             "total_cpus")


def mirror_type(template: str) -> str:
    """How ``template`` keeps an instance's disks: ``none``, ``internal`` or ``external``."""
    if template not in _MIRROR:
        raise OpPrereqError(f"Unknown disk template '{template}' (known:"
                            f" {', '.join(sorted(_MIRROR))})", ECODE_INVAL)
    return _MIRROR[template]


def required_nodes(template: str) -> int:
    """How many nodes an instance of ``template`` needs (2 for drbd, else 1)."""
    return 2 if mirror_type(template) == MIRROR_INTERNAL else 1


def disk_space_total(template: str, sizes: Sequence[int]) -> int:
    """Disk space (MiB) an instance takes on each of its nodes, as Ganeti counts it."""
    mirror_type(template)
    if template == params.DT_DISKLESS:
        return 0
    if template == params.DT_DRBD8:
        return sum(sizes) + DRBD_META_MIB * len(sizes)
    return sum(sizes)


def default_ipolicy(cluster: Mapping[str, Any]) -> dict[str, Any]:
    """The cluster's instance policy as the allocator gets it (``params.full_ipolicy``)."""
    return params.full_ipolicy(cluster)


# --- the "request" part --------------------------------------------------------------------

def _disk_list(disks: Sequence[int | Mapping[str, Any]]) -> list[dict[str, Any]]:
    result = []
    for idx, disk in enumerate(disks):
        item = {"size": disk} if isinstance(disk, int) else dict(disk)
        size = item.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise OpPrereqError(f"Disk {idx}: size must be a non-negative number of MiB,"
                                f" got {size!r}", ECODE_INVAL)
        result.append({"size": size, "mode": item.get("mode", "rw"),
                       "spindles": item.get("spindles") or 1})
    return result


def _nic_list(nics: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    result = []
    for nic in nics or []:
        mode = nic.get("mode", params.NIC_MODE_BRIDGED)
        link = nic.get("link", params.DEFAULT_BRIDGE)
        result.append({"mac": nic.get("mac", "auto"), "ip": nic.get("ip"), "mode": mode,
                       "link": link,
                       "bridge": link if mode == params.NIC_MODE_BRIDGED else None,
                       "network": nic.get("network")})
    return result


def request_allocate(name: str, memory: int, disks: Sequence[int | Mapping[str, Any]],
                     disk_template: str, vcpus: int = 1,
                     nics: Sequence[Mapping[str, Any]] | None = None, os: str = "",
                     tags: Sequence[str] = (), hypervisor: str = params.HT_KVM,
                     spindle_use: int = 1, group_name: str | None = None) -> dict[str, Any]:
    """The ``request`` of an ``allocate`` call: place a new instance.

    ``memory`` in MiB (the instance's maxmem), ``disks`` as sizes in MiB or dicts with
    ``size``/``mode``/``spindles``, ``nics`` as dicts with ``mac``/``ip``/``mode``/``link``.
    ``group_name`` restricts the placement to one node group (Ganeti's ``group_name``).
    """
    if not name:
        raise OpPrereqError("Allocation request: the instance name is empty", ECODE_INVAL)
    if isinstance(memory, bool) or not isinstance(memory, int) or memory <= 0:
        raise OpPrereqError(f"Allocation request for {name}: memory must be a positive number"
                            f" of MiB, got {memory!r}", ECODE_INVAL)
    if isinstance(vcpus, bool) or not isinstance(vcpus, int) or vcpus <= 0:
        raise OpPrereqError(f"Allocation request for {name}: vcpus must be a positive integer,"
                            f" got {vcpus!r}", ECODE_INVAL)
    disk_list = _disk_list(disks)
    request: dict[str, Any] = {
        "type": MODE_ALLOCATE, "name": name, "memory": memory, "vcpus": vcpus,
        "disks": disk_list, "disk_template": disk_template,
        "disk_space_total": disk_space_total(disk_template, [d["size"] for d in disk_list]),
        "required_nodes": required_nodes(disk_template),
        "nics": _nic_list(nics), "os": os, "tags": list(tags), "hypervisor": hypervisor,
        "spindle_use": spindle_use,
    }
    if group_name is not None:
        request["group_name"] = group_name
    return request


def request_multi_allocate(allocations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``request`` of a ``multi-allocate`` call from :func:`request_allocate` results."""
    if not allocations:
        raise OpPrereqError("Multi-allocation request without instances", ECODE_INVAL)
    names = [a.get("name") for a in allocations]
    dupes = sorted({str(n) for n in names if names.count(n) > 1})
    if dupes:
        raise OpPrereqError(f"Multi-allocation request names an instance twice:"
                            f" {', '.join(dupes)}", ECODE_INVAL)
    for alloc in allocations:
        if alloc.get("type") != MODE_ALLOCATE:
            raise OpPrereqError(f"Multi-allocation entry {alloc.get('name')!r} is not an"
                                " allocate request", ECODE_INVAL)
    return {"type": MODE_MULTI_ALLOCATE, "instances": [dict(a) for a in allocations]}


def request_relocate(name: str, relocate_from: Sequence[str]) -> dict[str, Any]:
    """The ``request`` of a ``relocate`` call: a new node for instance ``name`` instead of
    the nodes ``relocate_from`` (its primary for shared storage, its secondary for drbd).

    ``required_nodes`` and ``disk_space_total`` are filled from the config by
    :func:`build_request`.
    """
    if not relocate_from:
        raise OpPrereqError(f"Relocation request for {name}: no node to relocate from",
                            ECODE_INVAL)
    return {"type": MODE_RELOCATE, "name": name, "relocate_from": list(relocate_from)}


def request_node_evacuate(instances: Sequence[str], evac_mode: str = EVAC_ALL) -> dict[str, Any]:
    """The ``request`` of a ``node-evacuate`` call: new nodes for ``instances``.

    ``evac_mode`` is ``primary-only``, ``secondary-only`` or ``all``.
    """
    if evac_mode not in EVAC_MODES:
        raise OpPrereqError(f"Invalid evacuation mode '{evac_mode}' (valid:"
                            f" {', '.join(EVAC_MODES)})", ECODE_INVAL)
    return {"type": MODE_NODE_EVACUATE, "instances": list(instances), "evac_mode": evac_mode}


def request_change_group(instances: Sequence[str],
                         target_groups: Sequence[str] = ()) -> dict[str, Any]:
    """The ``request`` of a ``change-group`` call (``target_groups``: group UUIDs)."""
    return {"type": MODE_CHANGE_GROUP, "instances": list(instances),
            "target_groups": list(target_groups)}


# --- the cluster part ----------------------------------------------------------------------

def _instance_nodes(config: Mapping[str, Any], inst: Mapping[str, Any]) -> list[str]:
    """The primary's name, then the secondaries' (the other nodes of its disks: drbd)."""
    nodes = config["nodes"]
    uuids = [inst["primary_node"], *inst.get("secondary_nodes", [])]
    for disk_uuid in inst.get("disks", []):
        for uuid in (config["disks"].get(disk_uuid) or {}).get("nodes") or []:
            if uuid not in uuids:
                uuids.append(uuid)
    return [nodes[u]["name"] for u in uuids if u in nodes]


def _instance_data(config: Mapping[str, Any], inst: Mapping[str, Any]) -> dict[str, Any]:
    cluster = config["cluster"]
    be = params.filled_beparams(cluster, inst)
    disks = [config["disks"][d] for d in inst["disks"] if d in config["disks"]]
    disk_list = [{"size": int(d["size"]), "mode": d.get("mode", "rw"),
                  "spindles": d.get("spindles") or 1} for d in disks]
    nics = [{"mac": nic.get("mac"), "ip": nic.get("ip"), "network": nic.get("network"),
             **params.filled_nicparams(cluster, nic)} for nic in inst.get("nics", [])]
    for nic in nics:
        nic["bridge"] = nic["link"] if nic["mode"] == params.NIC_MODE_BRIDGED else None
        nic.pop("vlan", None)
    template = inst["disk_template"]
    return {
        "memory": int(be["maxmem"]), "minmem": int(be["minmem"]), "vcpus": int(be["vcpus"]),
        "spindle_use": int(be["spindle_use"]), "disks": disk_list, "disk_template": template,
        "disk_space_total": disk_space_total(template, [d["size"] for d in disk_list]),
        "nics": nics, "os": inst.get("os", ""), "tags": list(inst.get("tags", [])),
        "nodes": _instance_nodes(config, inst), "admin_state": inst["admin_state"],
        "admin_state_source": inst.get("admin_state_source", "admin"),
        "disks_active": disks_active(dict(inst)),
        "hypervisor": inst["hypervisor"], "auto_balance": bool(be["auto_balance"]),
        "always_failover": bool(be["always_failover"]),
    }


def _node_data(config: Mapping[str, Any], node: Mapping[str, Any],
               live: Mapping[str, Any] | None, primaries: list[dict[str, Any]]) -> dict[str, Any]:
    nd = params.filled_ndparams(config["cluster"], node)
    offline = bool(node["offline"]) or live is None
    spindles = int(nd.get("spindle_count", 1))
    data: dict[str, Any] = {
        "primary_ip": node["primary_ip"], "secondary_ip": node["secondary_ip"],
        "offline": offline, "drained": bool(node["drained"]),
        "master_candidate": bool(node["master_candidate"]),
        "master_capable": bool(node["master_capable"]), "vm_capable": bool(node["vm_capable"]),
        "group": node["group"], "tags": list(node.get("tags", [])),
        "ndparams": {"spindle_count": spindles,
                     "exclusive_storage": bool(nd.get("exclusive_storage", False)),
                     "oob_program": nd.get("oob_program") or None},
        "total_spindles": spindles, "free_spindles": spindles,
        "i_pri_memory": sum(i["memory"] for i in primaries),
        "i_pri_up_memory": sum(i["memory"] for i in primaries if i["admin_state"] == "up"),
    }
    if live is None:
        data.update({key: 0 for key in LIVE_KEYS})
        data["reserved_cpus"] = 0
        return data
    missing = [key for key in LIVE_KEYS if key not in live]
    if missing:
        raise OpPrereqError(f"Live data of node {node['name']} lacks {', '.join(missing)}",
                            ECODE_INVAL)
    free_memory = int(live["free_memory"])
    used = live.get("instance_memory")
    if isinstance(used, Mapping):
        # Like Ganeti: an instance that should run but uses less than its maxmem (or is
        # stopped) still needs that memory reserved.
        for inst in primaries:
            if inst["admin_state"] == "up":
                free_memory -= max(0, inst["memory"] - int(used.get(inst["name"], 0)))
    data.update({key: int(live[key]) for key in LIVE_KEYS})
    data["free_memory"] = max(0, free_memory)
    data["reserved_cpus"] = int(live.get("reserved_cpus", 0))
    return data


def _check_request(config: Mapping[str, Any], request: Mapping[str, Any],
                   instances: Mapping[str, dict[str, Any]],
                   node_names: set[str]) -> dict[str, Any]:
    mode = request.get("type")
    if mode not in MODES:
        raise OpPrereqError(f"Unknown iallocator request type {mode!r} (valid:"
                            f" {', '.join(MODES)})", ECODE_INVAL)
    checked: dict[str, Any] = copy.deepcopy(dict(request))
    if mode == MODE_RELOCATE:
        name = str(checked.get("name"))
        if name not in instances:
            raise OpPrereqError(f"Relocation request: unknown instance {name!r}", ECODE_NOENT)
        inst = instances[name]
        for node in checked["relocate_from"]:
            if node not in node_names:
                raise OpPrereqError(f"Relocation request for {name}: unknown node {node!r}",
                                    ECODE_NOENT)
            if node not in inst["nodes"]:
                raise OpPrereqError(f"Relocation request for {name}: the instance does not"
                                    f" use node {node}", ECODE_INVAL)
        checked.setdefault("required_nodes", 1)
        checked.setdefault("disk_space_total", inst["disk_space_total"])
    elif mode in (MODE_NODE_EVACUATE, MODE_CHANGE_GROUP):
        unknown = [n for n in checked.get("instances", []) if n not in instances]
        if unknown:
            raise OpPrereqError(f"{mode} request: unknown instance(s) {', '.join(unknown)}",
                                ECODE_NOENT)
        if mode == MODE_CHANGE_GROUP:
            bad = [g for g in checked.get("target_groups", []) if g not in config["nodegroups"]]
            if bad:
                raise OpPrereqError(f"change-group request: unknown group(s) {', '.join(bad)}",
                                    ECODE_NOENT)
    else:
        allocs = checked["instances"] if mode == MODE_MULTI_ALLOCATE else [checked]
        for alloc in allocs:
            if alloc.get("name") in instances:
                raise OpPrereqError(f"Allocation request: instance {alloc['name']} already"
                                    " exists", ECODE_INVAL)
    return checked


def build_request(config: Mapping[str, Any], live: Mapping[str, Mapping[str, Any] | None],
                  request: Mapping[str, Any]) -> dict[str, Any]:
    """The complete IAllocator input for ``request`` on the cluster ``config``.

    ``config`` is the parsed ``config.data``; ``live`` maps node name to its live resources
    (``total_memory``, ``free_memory``, ``reserved_memory``, ``total_disk``, ``free_disk``
    in MiB, ``total_cpus``; optional ``reserved_cpus`` and ``instance_memory`` = {instance
    name: MiB in use}), or ``None`` for a node that could not be reached (sent as offline).
    A node missing from ``live`` counts as unreachable. Raises :class:`OpPrereqError` for a
    request that names unknown instances or nodes.
    """
    cluster = config["cluster"]
    instances: dict[str, dict[str, Any]] = {}
    by_primary: dict[str, list[dict[str, Any]]] = {}
    for inst in config["instances"].values():
        data = _instance_data(config, inst)
        instances[inst["name"]] = data
        by_primary.setdefault(inst["primary_node"], []).append({**data, "name": inst["name"]})
    nodes = {}
    for uuid, node in config["nodes"].items():
        nodes[node["name"]] = _node_data(config, node, live.get(node["name"]),
                                         by_primary.get(uuid, []))
    ipolicy = default_ipolicy(cluster)
    groups = {}
    for uuid, group in config["nodegroups"].items():
        policy = group.get("alloc_policy", ALLOC_PREFERRED)
        if policy not in ALLOC_POLICIES:
            raise OpPrereqError(f"Node group {group['name']}: invalid alloc_policy {policy!r}",
                                ECODE_INVAL)
        group_policy = params.full_ipolicy(cluster, group)
        networks = group.get("networks") or {}
        groups[uuid] = {"name": group["name"], "alloc_policy": policy, "ipolicy": group_policy,
                        "tags": list(group.get("tags", [])), "networks": sorted(networks)}
    hypervisors = list(cluster.get("enabled_hypervisors") or [params.HT_KVM])
    checked = _check_request(config, request, instances, set(nodes))
    allocs = (checked["instances"] if checked["type"] == MODE_MULTI_ALLOCATE
              else [checked] if checked["type"] == MODE_ALLOCATE else [])
    group_names = {g["name"] for g in groups.values()}
    for alloc in allocs:
        if alloc.get("group_name") is not None and alloc["group_name"] not in group_names:
            raise OpPrereqError(f"Allocation request for {alloc.get('name')}: unknown node"
                                f" group {alloc['group_name']!r}", ECODE_NOENT)
    return {
        "version": PROTOCOL_VERSION,
        "cluster_name": cluster["cluster_name"],
        "cluster_tags": list(cluster.get("tags", [])),
        "enabled_hypervisors": hypervisors,
        "hypervisor_type": hypervisors[0],
        "ipolicy": ipolicy,
        "nodegroups": groups,
        "nodes": nodes,
        "instances": instances,
        "request": checked,
    }
