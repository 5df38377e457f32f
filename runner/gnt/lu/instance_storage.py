"""Disks of new instances on LVM (``plain``) and DRBD (``drbd``): the ``--disk`` parameters
checked as Ganeti checks them, the space on the nodes' volume groups checked, and the disk
objects planned (LV names, DRBD minors, port and secret; see :mod:`gnt.config.drbdmap`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gnt.config import drbdmap
from gnt.core.errors import (
    ECODE_ENVIRON,
    ECODE_INVAL,
    ECODE_NORES,
    ECODE_NOTUNIQUE,
    ECODE_STATE,
    OpPrereqError,
)
from gnt.lu import instance_nics
from gnt.nodes import rpc
from gnt.opcodes import params, storage
from gnt.opcodes.params import DT_DRBD8, DT_PLAIN

LVM_TEMPLATES = (DT_PLAIN, DT_DRBD8)
MIRRORED_TEMPLATES = (DT_DRBD8,)        # Ganeti's DTS_INT_MIRROR: need a secondary node
ADOPTABLE_TEMPLATES = (DT_PLAIN,)       # Ganeti's DTS_MAY_ADOPT (blockdev is not built)


@dataclass
class DiskRequest:
    """One ``--disk`` of a new instance on LVM: size (MiB), access mode, volume groups of the
    data and (drbd) meta-data volumes, and the LV to adopt (plain)."""

    size: int
    mode: str
    vg: str
    metavg: str
    adopt: str | None = None
    metavg_given: bool = False


def check_requests(template: str, disks: list[dict[str, Any]], sizes: list[int],
                   modes: list[str], cluster: dict[str, Any], iallocator: str | None,
                   mode: str) -> list[DiskRequest]:
    """The disks of an LVM instance, each with its volume groups (the cluster's by default);
    the adoption rules as Ganeti's. ``sizes`` and ``modes`` are the already checked values
    (a size of 0 for a disk to adopt)."""
    default_vg = cluster.get("volume_group_name") or ""
    own_metavg = params.own_diskparam(cluster, None, DT_DRBD8, "metavg")
    adopted = [disk for disk in disks if disk.get("adopt")]
    if adopted and len(adopted) != len(disks):
        raise OpPrereqError("Either all disks are adopted or none is", ECODE_INVAL)
    if adopted:
        if template not in ADOPTABLE_TEMPLATES:
            raise OpPrereqError(f"Disk adoption is not supported for the '{template}' disk"
                                " template", ECODE_INVAL)
        if iallocator:
            raise OpPrereqError("Disk adoption not allowed with an iallocator script",
                                ECODE_INVAL)
        if mode == "import":
            raise OpPrereqError("Disk adoption not allowed for instance import", ECODE_INVAL)
    requests = []
    for index, (disk, size, access) in enumerate(zip(disks, sizes, modes, strict=True)):
        vg = str(disk.get("vg") or default_vg)
        metavg = str(disk.get("metavg") or own_metavg or vg)
        if not vg:
            raise OpPrereqError(f"Disk {index}: no volume group given and the cluster has"
                                " none (gnt-cluster modify --vg-name)", ECODE_INVAL)
        storage.check_vg_name(vg)
        storage.check_vg_name(metavg)
        adopt = str(disk["adopt"]) if disk.get("adopt") else None
        if adopt is not None and (adopt.startswith("-") or "/" in adopt or adopt in (".", "..")):
            raise OpPrereqError(f"Disk {index}: invalid logical volume name '{adopt}' to"
                                " adopt", ECODE_INVAL)
        requests.append(DiskRequest(size, access, vg, metavg, adopt,
                                    metavg_given=bool(disk.get("metavg"))))
    if adopted:
        names = {(r.vg, r.adopt) for r in requests}
        if len(names) != len(requests):
            raise OpPrereqError("Duplicate volume names given for adoption", ECODE_INVAL)
    return requests


def apply_group_metavg(cfg: Any, pnode: dict[str, Any], requests: list[DiskRequest]) -> None:
    """The drbd ``metavg`` disk parameter of the primary node's group (when that group sets
    it) for the meta-data volumes whose ``--disk`` gave no ``metavg``."""
    group = cfg.data["nodegroups"].get(pnode.get("group", ""))
    own = (((group or {}).get("diskparams") or {}).get(DT_DRBD8) or {}).get("metavg")
    if not own:
        return
    for req in requests:
        if not req.metavg_given:
            req.metavg = str(own)


def space_per_vg(template: str, requests: list[DiskRequest]) -> dict[str, int]:
    """MiB each volume group must have free on every node of the instance (drbd: the data
    volume plus 128 MiB of meta-data per disk)."""
    needed: dict[str, int] = {}
    for req in requests:
        if req.adopt:
            continue
        needed[req.vg] = needed.get(req.vg, 0) + req.size
        if template == DT_DRBD8:
            needed[req.metavg] = needed.get(req.metavg, 0) + drbdmap.DRBD_META_SIZE
    return needed


def check_free_space(cfg: Any, nodes: list[dict[str, Any]], needed: dict[str, int]) -> None:
    """Every node has each volume group with the space ``needed`` (Ganeti's messages)."""
    for vg, mib in sorted(needed.items()):
        for node in nodes:
            try:
                info = rpc.vg_info(cfg, node, vg)
            except rpc.NodeDown as err:
                raise OpPrereqError(f"Cannot get current information from node"
                                    f" {node['name']}: {err}", ECODE_ENVIRON) from err
            if "vg_free" not in info:
                raise OpPrereqError(f"Can't compute free disk space on node {node['name']} for"
                                    f" vg {vg}, result was '{info.get('vg_error')}'",
                                    ECODE_ENVIRON)
            if int(info["vg_free"]) < mib:
                raise OpPrereqError(f"Not enough disk space on target node {node['name']} vg"
                                    f" {vg}: required {mib} MiB, available"
                                    f" {int(info['vg_free'])} MiB", ECODE_NORES)


def check_adoption(cfg: Any, pnode: dict[str, Any], requests: list[DiskRequest]) -> list[int]:
    """The LVs to adopt exist on the primary node, are not open and no instance uses them;
    their sizes (MiB), in order (Ganeti's checks and messages)."""
    wanted = [f"{req.vg}/{req.adopt}" for req in requests]
    used = {f"{d['logical_id'][0]}/{d['logical_id'][1]}" for d in _plain_volumes(cfg)}
    taken = sorted(name for name in wanted if name in used)
    if taken:
        raise OpPrereqError(f"LV named {taken[0]} used by another instance", ECODE_NOTUNIQUE)
    try:
        found = rpc.lv_list(cfg, pnode, sorted({req.vg for req in requests}))
    except rpc.NodeDown as err:
        raise OpPrereqError(f"Cannot get LV information from node {pnode['name']}: {err}",
                            ECODE_ENVIRON) from err
    missing = [name for name in wanted if name not in found]
    if missing:
        raise OpPrereqError(f"Missing logical volume(s): {', '.join(missing)}", ECODE_INVAL)
    online = [name for name in wanted if found[name]["open"]]
    if online:
        raise OpPrereqError(f"Online logical volumes found, cannot adopt: {', '.join(online)}",
                            ECODE_STATE)
    return [int(found[name]["size_mib"]) for name in wanted]


def _plain_volumes(cfg: Any) -> list[dict[str, Any]]:
    """Every LVM volume the config knows: plain disks and the children of drbd disks."""
    volumes = []
    for disk in cfg.data["disks"].values():
        if disk.get("dev_type") == DT_PLAIN:
            volumes.append(disk)
        volumes += [child for child in disk.get("children") or []
                    if child.get("dev_type") == DT_PLAIN]
    return volumes


def plan_disks(cfg: Any, template: str, requests: list[DiskRequest], pnode: str,
               snode: str | None) -> list[dict[str, Any]]:
    """Device fields (dev_type, logical_id, size, children) of the new disks; a drbd disk's
    port is 0 until :func:`allocate_ports` (at execution, persisted at once)."""
    planned = []
    taken: dict[str, set[int]] = {}
    for index, req in enumerate(requests):
        if template == DT_PLAIN:
            # an adopted LV is renamed to the standard name when the instance is made (as
            # Ganeti does); the role gets the LV to adopt from the request
            planned.append(drbdmap.plain_disk(req.vg, drbdmap.new_lv_name(index), req.size))
            continue
        assert snode is not None, "drbd needs a secondary node (checked before)"
        minors = drbdmap.allocate_minors(cfg.data, [pnode, snode], taken)
        planned.append(drbdmap.drbd_disk(pnode, snode, 0, minors, drbdmap.new_secret(),
                                         req.size, req.vg, req.metavg, index))
    return planned


def allocate_ports(cfg: Any, disks: list[dict[str, Any]]) -> list[int]:
    """Give each drbd disk of ``disks`` its port (taken in the config at once); the ports."""
    ports: list[int] = []
    drbd = [disk for disk in disks if disk["dev_type"] == DT_DRBD8]
    if not drbd:
        return ports
    in_use = drbdmap.used_ports(cfg.data)

    def take(cluster: dict[str, Any]) -> None:
        for _disk in drbd:
            port = drbdmap.allocate_port(cluster, in_use | set(ports))
            ports.append(port)
    cfg.modify_cluster(take)
    for disk, port in zip(drbd, ports, strict=True):
        disk["logical_id"][drbdmap.LID_PORT] = port
    return ports


def release_ports(cfg: Any, ports: list[int]) -> None:
    """Give ``ports`` back to the cluster's pool (a creation that failed)."""
    if not ports:
        return

    def give(cluster: dict[str, Any]) -> None:
        for port in ports:
            drbdmap.release_port(cluster, port)
    cfg.modify_cluster(give)


def remove_instance(cfg: Any, instance: dict[str, Any]) -> None:
    """Remove ``instance`` and its disks from the config, its drbd ports back to the pool
    (given back first: a pooled port still in use is never handed out again)."""
    ports = [int(disk["logical_id"][drbdmap.LID_PORT]) for disk in cfg.instance_disks(instance)
             if disk.get("dev_type") == DT_DRBD8]
    release_ports(cfg, ports)
    with cfg.transaction():
        cfg.remove("instances", instance["uuid"], {"disks": instance["disks"]})
        instance_nics.release_instance_ips(cfg, instance)
